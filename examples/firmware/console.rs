//! `log` lines on the board's console, for both firmware builds (poll-driven and async).

use core::marker::PhantomData;

use crate::board::Board;

/// `log` lines on the board's console, one line each.
pub struct Console<B>(PhantomData<fn() -> B>);

impl<B: Board + 'static> Console<B> {
    /// Make it `log`'s logger, at level `info`.
    pub fn install() {
        // `set_logger` fails only if called twice.
        let _ = log::set_logger(const { &Console::<B>(PhantomData) });
        log::set_max_level(log::LevelFilter::Info);
    }
}

impl<B: Board> log::Log for Console<B> {
    fn enabled(&self, metadata: &log::Metadata<'_>) -> bool {
        metadata.level() <= log::max_level()
    }

    fn log(&self, record: &log::Record<'_>) {
        if self.enabled(record.metadata()) {
            let mut line = heapless::String::<192>::new();
            // A line longer than the buffer is cut; the console is for people.
            let _ = core::fmt::Write::write_fmt(
                &mut line,
                format_args!("{:<5} {}", record.level(), record.args()),
            );
            B::print(&line);
        }
    }

    fn flush(&self) {}
}
