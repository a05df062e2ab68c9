//! Everything that talks to a person on stderr: notes, warnings, prompts, pickers and spinners,
//! each only where a terminal is there to see it.
//!
//! Every way out leaves the terminal as it was found (contract, "Terminals"): a prompt or a
//! picker left with Ctrl-C, a wait interrupted, an error while a spinner shows. The cursor is
//! shown again, the spinner line cleared, the terminal's mode restored, and one line says what was
//! and was not changed. Ctrl-C reaches the plugin two ways during a prompt: the prompt library
//! reads it as a key on a raw terminal and fails, or the terminal sends SIGINT (between two
//! keys); from the first prompt on, a listener catches the signal so that both end the same way.

use std::borrow::Cow;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use dialoguer::theme::SimpleTheme;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};

use crate::cli::GlobalArgs;
use crate::error::{Exit, fail};
use crate::output::{Color, color_enabled, paint, sanitize};

/// What the session can do with the person in front of it.
#[derive(Debug, Clone, Copy)]
pub struct Terminal {
    /// stdin and stderr are terminals: prompts and pickers are possible.
    pub interactive: bool,
    /// stderr is a terminal: spinners are possible.
    pub stderr_tty: bool,
    pub color: bool,
    pub yes: bool,
}

impl Terminal {
    pub fn detect(global: &GlobalArgs) -> Terminal {
        let stderr_tty = std::io::stderr().is_terminal();
        Terminal {
            interactive: stderr_tty && std::io::stdin().is_terminal(),
            stderr_tty,
            color: color_enabled(global.no_color),
            yes: global.yes,
        }
    }

    pub fn note(&self, text: &str) {
        eprintln!("{} {}", paint("note:", Color::Bold, self.color), sanitize(text));
    }

    pub fn warn(&self, text: &str) {
        eprintln!("{} {}", paint("warning:", Color::Yellow, self.color), sanitize(text));
    }

    /// Asks before a write. Without a terminal, or with --yes, proceeds as kubectl does.
    /// Declining (or Esc) exits 130 "declined"; Ctrl-C exits 130 "interrupted"; both say that
    /// nothing was changed. After a yes, a Ctrl-C before the wait's spinner says that the change
    /// may have been applied.
    pub fn confirm(&self, question: &str) -> anyhow::Result<()> {
        if !self.interactive || self.yes {
            return Ok(());
        }
        // The question stays on its line, the cursor after it: a Ctrl-C ends that line first.
        let answer = interrupt::ask(true, || {
            dialoguer::Confirm::with_theme(&SimpleTheme).with_prompt(question).default(false).interact_opt()
        })?;
        match answer {
            Some(true) => {
                interrupt::consented();
                Ok(())
            }
            _ => Err(fail(Exit::Interrupted, "declined: nothing was changed")),
        }
    }

    /// Lets a person pick one name; `None` if there is no terminal to ask on.
    pub fn pick(&self, prompt: &str, names: &[String]) -> anyhow::Result<Option<String>> {
        if !self.interactive || self.yes {
            return Ok(None);
        }
        // The picker leaves the cursor at the start of the line under its items.
        let chosen = interrupt::ask(false, || {
            dialoguer::Select::with_theme(&SimpleTheme).with_prompt(prompt).items(names).default(0).interact_opt()
        })?;
        match chosen.and_then(|i| names.get(i)) {
            Some(name) => Ok(Some(name.clone())),
            None => Err(fail(Exit::Interrupted, "no InferenceService picked: nothing was changed")),
        }
    }

    /// A spinner on stderr, or a hidden one without a terminal. While it exists, Ctrl-C is the
    /// wait's to answer (it says what is applied and how to undo it). Dropped, or finished, it
    /// clears its line and shows the cursor, whichever way the wait ended.
    pub fn spinner(&self) -> Spinner {
        interrupt::delegated();
        if !self.stderr_tty {
            return Spinner { bar: ProgressBar::hidden(), shown: false };
        }
        let target = ProgressDrawTarget::term_like_with_hz(Box::new(SpinnerLine(console::Term::stderr())), 20);
        let bar = ProgressBar::with_draw_target(None, target);
        if let Ok(style) = ProgressStyle::with_template("{spinner} {elapsed:>4} {wide_msg}") {
            bar.set_style(style);
        }
        bar.enable_steady_tick(Duration::from_millis(120));
        Spinner { bar, shown: true }
    }
}

/// The spinner of a wait. Its line is cleared, and the cursor shown, when it is finished or
/// dropped: an error returned while it shows leaves no frame behind.
pub struct Spinner {
    bar: ProgressBar,
    shown: bool,
}

impl Spinner {
    pub fn set_message(&self, message: impl Into<Cow<'static, str>>) {
        self.bar.set_message(message);
    }

    /// Clears the spinner's line (the cursor at its start, for the next line of text).
    pub fn finish_and_clear(&self) {
        if self.bar.is_finished() {
            return;
        }
        self.bar.finish_and_clear();
        if self.shown {
            show_cursor();
        }
    }
}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.finish_and_clear();
    }
}

/// Columns the spinner leaves free at the end of its line. indicatif pads its line to the
/// terminal's width, which leaves the cursor in the last column: the terminal's echo of Ctrl-C
/// (`^C`) would then wrap to a new line, and clearing "the spinner's line" would clear that one
/// and leave the last frame on the screen. With a margin the echo stays on the spinner's line.
const SPINNER_MARGIN: u16 = 3;

/// stderr, narrower by [`SPINNER_MARGIN`] for the spinner's layout.
#[derive(Debug)]
struct SpinnerLine(console::Term);

impl TermLike for SpinnerLine {
    fn width(&self) -> u16 {
        self.0.size().1.saturating_sub(SPINNER_MARGIN).max(1)
    }

    fn height(&self) -> u16 {
        self.0.size().0
    }

    fn move_cursor_up(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_up(n)
    }

    fn move_cursor_down(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_down(n)
    }

    fn move_cursor_right(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_right(n)
    }

    fn move_cursor_left(&self, n: usize) -> std::io::Result<()> {
        self.0.move_cursor_left(n)
    }

    fn write_line(&self, s: &str) -> std::io::Result<()> {
        self.0.write_line(s)
    }

    fn write_str(&self, s: &str) -> std::io::Result<()> {
        self.0.write_str(s)
    }

    fn clear_line(&self) -> std::io::Result<()> {
        self.0.clear_line()
    }

    fn flush(&self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Shows the cursor on stderr (prompts hide it while they read keys).
fn show_cursor() {
    let mut err = std::io::stderr();
    let _ = err.write_all(b"\x1b[?25h");
    let _ = err.flush();
}

/// A future that completes on Ctrl-C, with the signal handler installed now rather than at its
/// first poll (until then Ctrl-C would still end the process the default way). When no handler
/// can be installed it never completes.
///
/// Must be called within the tokio runtime.
pub fn ctrl_c() -> Pin<Box<dyn Future<Output = ()> + Send>> {
    let mut ctrl_c = Box::pin(tokio::signal::ctrl_c());
    match ctrl_c.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Pending => Box::pin(async move {
            if ctrl_c.await.is_err() {
                std::future::pending::<()>().await;
            }
        }),
        Poll::Ready(Ok(())) => Box::pin(std::future::ready(())),
        Poll::Ready(Err(_)) => Box::pin(std::future::pending()),
    }
}

/// The width of the terminal on stdout, if stdout is one.
pub fn stdout_width() -> Option<usize> {
    console::Term::stdout().size_checked().map(|(_, cols)| usize::from(cols))
}

/// A block of text drawn in place on a terminal and replaced on change (`status --watch`).
///
/// Each draw goes back to the top of what was drawn since the previous one, counted in the rows
/// the text took on the screen (a line wider than the terminal wraps to several), clears to the
/// end of the screen and writes the new text: the screen then holds exactly what a fresh render
/// of the last state shows. A frame taller than the screen works too (the cursor stops at the top
/// row, where the new frame starts). When the width changed since the last draw, the rows of the
/// old text cannot be known (terminals differ in how they reflow), so the screen is cleared.
#[derive(Debug, Default)]
pub struct Redraw {
    /// Rows the cursor moved down since the top of the block.
    rows: usize,
    width: Option<usize>,
    drawn: bool,
}

impl Redraw {
    /// The control sequence that goes back to the top of the block and clears it (nothing for the
    /// first draw). The width is that of the terminal now.
    pub fn top(&mut self, width: Option<usize>) -> String {
        let out = if !self.drawn {
            String::new()
        } else if self.width != width {
            "\x1b[H\x1b[2J".to_string()
        } else if self.rows == 0 {
            "\r\x1b[J".to_string()
        } else {
            format!("\r\x1b[{}A\x1b[J", self.rows)
        };
        self.rows = 0;
        self.width = width;
        self.drawn = true;
        out
    }

    /// Counts text written since [`Redraw::top`] (on stdout, or on stderr when it is the same
    /// terminal), so that the next draw covers it.
    pub fn count(&mut self, text: &str) {
        self.rows += rows(text, self.width);
    }
}

/// How many rows down the cursor moves when `text` is written from the start of a line on a
/// terminal `width` columns wide (`None`: lines never wrap). A line exactly as wide as the
/// terminal takes one row (the cursor waits in the last column until the next character).
pub fn rows(text: &str, width: Option<usize>) -> usize {
    let mut rows = 0;
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let w = console::measure_text_width(line);
        if let Some(cols) = width.filter(|c| *c > 0)
            && w > 0
        {
            rows += (w - 1) / cols;
        }
        if lines.peek().is_some() {
            rows += 1;
        }
    }
    rows
}

/// Ctrl-C around prompts: who answers it, and the one way every answer ends.
mod interrupt {
    use std::io::Write;
    use std::sync::Once;
    use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

    use crate::error::{Exit, fail};

    /// No prompt yet: Ctrl-C does what it did before (the default, or a wait's own listener).
    const QUIET: u8 = 0;
    /// A prompt or picker shows, or was answered without consent: nothing was changed.
    const ASKING: u8 = 1;
    /// The person confirmed: the write may be on its way.
    const CONSENTED: u8 = 2;
    /// A wait's spinner shows: the wait answers Ctrl-C and says what is applied.
    const DELEGATED: u8 = 3;

    static PHASE: AtomicU8 = AtomicU8::new(QUIET);
    /// The cursor is on a question's line, after it.
    static OPEN_LINE: AtomicBool = AtomicBool::new(false);
    /// The process is ending on a Ctrl-C: whoever set it prints the one line.
    static ENDING: AtomicBool = AtomicBool::new(false);
    static LISTENER: Once = Once::new();

    pub const NOTHING_CHANGED: &str = "interrupted: nothing was changed";
    const MAYBE_APPLIED: &str = "interrupted after the change was confirmed: it may have been applied \
                                 (`kubectl isvc-canary status` shows whether it was)";

    /// Runs a prompt (a dialoguer `interact_opt`): the listener is on before it reads a key, the
    /// terminal's mode is saved, and the cursor is shown again however it ends. A Ctrl-C read as
    /// a key becomes the "interrupted" error; any other failure to read counts as no answer.
    pub fn ask<T>(open_line: bool, prompt: impl FnOnce() -> dialoguer::Result<Option<T>>) -> anyhow::Result<Option<T>> {
        mode::save();
        PHASE.store(ASKING, Ordering::SeqCst);
        OPEN_LINE.store(open_line, Ordering::SeqCst);
        listen();
        let answer = prompt();
        match answer {
            Ok(answer) => {
                OPEN_LINE.store(false, Ordering::SeqCst);
                super::show_cursor();
                Ok(answer)
            }
            Err(e) if is_ctrl_c(&e) => {
                if ENDING.swap(true, Ordering::SeqCst) {
                    // The listener caught the same Ctrl-C and is ending the process.
                    loop {
                        std::thread::park();
                    }
                }
                restore();
                Err(fail(Exit::Interrupted, NOTHING_CHANGED))
            }
            Err(_) => {
                OPEN_LINE.store(false, Ordering::SeqCst);
                super::show_cursor();
                Ok(None)
            }
        }
    }

    /// The prompt library's error for a Ctrl-C read as a key (after it raised SIGINT).
    fn is_ctrl_c(e: &dialoguer::Error) -> bool {
        matches!(e, dialoguer::Error::IO(io) if io.kind() == std::io::ErrorKind::Interrupted)
    }

    /// The person said yes.
    pub fn consented() {
        PHASE.store(CONSENTED, Ordering::SeqCst);
    }

    /// A spinner shows: from now on the wait answers Ctrl-C (for good: after the wait the
    /// command only reports).
    pub fn delegated() {
        PHASE.store(DELEGATED, Ordering::SeqCst);
    }

    /// Starts, once, the task that answers a Ctrl-C arriving as a signal. Its handler is
    /// installed here, before the prompt reads a key, so that a Ctrl-C from the first prompt on
    /// is never the default "die with the cursor hidden". Without a runtime (unit tests) there is
    /// no listener.
    fn listen() {
        LISTENER.call_once(|| {
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
            let ctrl_c = super::ctrl_c();
            runtime.spawn(async move {
                ctrl_c.await;
                let message = match PHASE.load(Ordering::SeqCst) {
                    ASKING => NOTHING_CHANGED,
                    CONSENTED => MAYBE_APPLIED,
                    _ => return, // the wait's own listener answers
                };
                if ENDING.swap(true, Ordering::SeqCst) {
                    return; // the prompt read the same Ctrl-C as a key and returns the error
                }
                restore();
                let mut err = std::io::stderr();
                let _ = writeln!(err, "error: {message}");
                let _ = err.flush();
                std::process::exit(i32::from(Exit::Interrupted.code()));
            });
        });
    }

    /// Puts the terminal back for the line that follows: its mode as before the prompt, the
    /// cursor shown, and the cursor at the start of a clean line (after the question, or over the
    /// terminal's `^C` echo).
    fn restore() {
        mode::restore();
        if !std::io::IsTerminal::is_terminal(&std::io::stderr()) {
            return;
        }
        let lead: &[u8] = if OPEN_LINE.swap(false, Ordering::SeqCst) { b"\n" } else { b"\r\x1b[K" };
        let mut err = std::io::stderr();
        let _ = err.write_all(lead);
        let _ = err.write_all(b"\x1b[?25h");
        let _ = err.flush();
    }

    /// The terminal's mode (termios) as it was before the first prompt: the prompt library puts
    /// the terminal in raw mode while it reads a key, and a signal can end the process then.
    #[cfg(unix)]
    mod mode {
        use std::sync::Mutex;

        use rustix::termios::{OptionalActions, Termios, tcgetattr, tcsetattr};

        static SAVED: Mutex<Option<Termios>> = Mutex::new(None);

        pub fn save() {
            let Ok(mut saved) = SAVED.lock() else { return };
            if saved.is_none() {
                *saved = tcgetattr(std::io::stdin()).ok();
            }
        }

        pub fn restore() {
            let Ok(saved) = SAVED.lock() else { return };
            if let Some(termios) = saved.as_ref() {
                let _ = tcsetattr(std::io::stdin(), OptionalActions::Now, termios);
            }
        }
    }

    #[cfg(not(unix))]
    mod mode {
        pub fn save() {}
        pub fn restore() {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_wrapped_lines() {
        assert_eq!(rows("", Some(80)), 0);
        assert_eq!(rows("abc\n", Some(80)), 1);
        assert_eq!(rows("abc\n\nd\n", Some(80)), 3);
        // As wide as the terminal: one row; one more character: two.
        assert_eq!(rows(&format!("{}\n", "x".repeat(80)), Some(80)), 1);
        assert_eq!(rows(&format!("{}\n", "x".repeat(81)), Some(80)), 2);
        assert_eq!(rows(&format!("{}\n", "x".repeat(170)), Some(80)), 3);
        // Without a width lines do not wrap.
        assert_eq!(rows(&format!("{}\n", "x".repeat(170)), None), 1);
        // An unterminated last line: the cursor stays on it.
        assert_eq!(rows("abc", Some(80)), 0);
        assert_eq!(rows(&"x".repeat(81), Some(80)), 1);
    }

    #[test]
    fn rows_ignore_colour_and_count_wide_characters() {
        let bold = format!("\x1b[1m{}\x1b[0m\n", "x".repeat(80));
        assert_eq!(rows(&bold, Some(80)), 1);
        // 41 characters two columns wide: 82 columns.
        assert_eq!(rows(&format!("{}\n", "模".repeat(41)), Some(80)), 2);
    }

    #[test]
    fn redraw_goes_back_over_every_row_it_counted() {
        let mut r = Redraw::default();
        assert_eq!(r.top(Some(80)), "");
        r.count(&format!("{}\nshort\n", "x".repeat(170)));
        r.count("warning: retrying\n");
        assert_eq!(r.top(Some(80)), "\r\x1b[5A\x1b[J");
        r.count("one\n");
        assert_eq!(r.top(Some(80)), "\r\x1b[1A\x1b[J");
        // Nothing drawn since the top: clear from here.
        assert_eq!(r.top(Some(80)), "\r\x1b[J");
        // Another width: the old rows are unknown, the screen is cleared.
        r.count("one\n");
        assert_eq!(r.top(Some(120)), "\x1b[H\x1b[2J");
    }
}
