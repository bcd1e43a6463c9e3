//! The firmware example links with cortex-m-rt's `link.x`, which includes `memory.x`:
//! point the linker at the board's (examples/firmware/memory.x, and device.x, which
//! cortex-m-rt's `device` feature includes). Bare-metal Arm only.
fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed=examples/firmware/memory.x");
    println!("cargo::rerun-if-changed=examples/firmware/device.x");
    let arch = std::env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_default();
    let os = std::env::var("CARGO_CFG_TARGET_OS").unwrap_or_default();
    if arch == "arm" && os == "none" {
        let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets it");
        println!("cargo::rustc-link-search={dir}/examples/firmware");
    }
}
