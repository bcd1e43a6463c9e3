//! The firmware example (examples/firmware) links with cortex-m-rt's `link.x`, which
//! includes `memory.x` and `device.x`: this picks the board for the target, hands its memory
//! map (`examples/firmware/boards/<board>.x`) to the linker as `memory.x`, points the linker
//! at `device.x`, and tells the firmware which board it is (`cfg(sockless_board = ...)`).
//! Bare metal only; nothing for a host build.

/// The board each bare-metal target builds the firmware for, and its memory map.
const BOARDS: [(&str, &str, &str); 4] = [
    ("thumbv7m-none-eabi", "mps2_an385", "mps2_an385.x"),
    ("thumbv7em-none-eabihf", "mps2_an386", "mps2_an385.x"),
    ("thumbv8m.main-none-eabi", "mps2_an505", "mps2_an505.x"),
    ("thumbv8m.main-none-eabihf", "mps3_an547", "mps3_an547.x"),
];

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=examples/firmware/boards");
    println!("cargo::rerun-if-changed=examples/firmware/device.x");
    let names: Vec<String> = BOARDS.iter().map(|b| format!("\"{}\"", b.1)).collect();
    println!(
        "cargo::rustc-check-cfg=cfg(sockless_board, values({}))",
        names.join(", ")
    );
    let target = std::env::var("TARGET").unwrap_or_default();
    let Some(&(_, board, memory)) = BOARDS.iter().find(|b| b.0 == target) else {
        return;
    };
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
    let out = std::env::var("OUT_DIR").expect("cargo sets it");
    let map = format!("{dir}/examples/firmware/boards/{memory}");
    std::fs::copy(&map, format!("{out}/memory.x")).unwrap_or_else(|e| panic!("{map}: {e}"));
    println!("cargo::rustc-link-search={out}");
    println!("cargo::rustc-link-search={dir}/examples/firmware");
    println!("cargo::rustc-cfg=sockless_board=\"{board}\"");
}
