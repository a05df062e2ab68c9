//! The plugin in a pseudo-terminal of a set size, its output laid out by a terminal emulator
//! (vt100): the screen a person would see. A test waits on what the screen shows (polling it
//! against a deadline, never sleeping a fixed time), types, and after the process ended looks at
//! its exit code, the screen and the cursor.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::objects::NS;
use crate::stub::{Stub, scratch};

/// How long a test waits for a screen or an exit (only a bound on hangs, never a verdict).
pub const LIMIT: Duration = Duration::from_secs(20);

/// Ctrl-C as the terminal sends it: the line discipline turns it into SIGINT (or, on a raw
/// terminal, the program reads it as a key).
pub const CTRL_C: &[u8] = b"\x03";

/// The plugin running in a pseudo-terminal.
pub struct Session {
    pty: Arc<pty_process::blocking::Pty>,
    child: Child,
    parser: Arc<Mutex<vt100::Parser>>,
    reader: Option<JoinHandle<()>>,
    command: String,
}

/// What the screen showed when the process had ended.
pub struct Ended {
    /// The exit code; `None` when killed by a signal (or by the time limit).
    pub code: Option<i32>,
    pub screen: Screen,
    /// The terminal was left in its normal mode (see [`Session::cooked`]).
    pub cooked: bool,
}

/// A copy of the emulator's screen.
#[derive(Clone)]
pub struct Screen {
    /// Each row as shown (a wrapped line takes several rows).
    pub rows: Vec<String>,
    /// The text, wrapped lines joined.
    pub contents: String,
    pub cursor: (u16, u16),
    pub cursor_hidden: bool,
}

impl Screen {
    fn of(screen: &vt100::Screen) -> Screen {
        let (_, cols) = screen.size();
        Screen {
            rows: screen.rows(0, cols.get()).collect(),
            contents: screen.contents(),
            cursor: screen.cursor_position(),
            cursor_hidden: screen.hide_cursor(),
        }
    }

    pub fn has(&self, needle: &str) -> bool {
        self.contents.contains(needle)
    }

    /// The rows, numbered, with the cursor, for assertion messages.
    pub fn show(&self) -> String {
        let mut out = String::new();
        for (i, row) in self.rows.iter().enumerate() {
            out.push_str(&format!("{i:>3}|{row}\n"));
        }
        out.push_str(&format!(
            "cursor at {:?}, {}\n",
            self.cursor,
            if self.cursor_hidden { "HIDDEN" } else { "visible" }
        ));
        out
    }

    /// The rows without trailing blank rows.
    pub fn text(&self) -> String {
        let mut rows = self.rows.clone();
        while rows.last().is_some_and(|r| r.trim().is_empty()) {
            rows.pop();
        }
        rows.join("\n")
    }
}

impl Session {
    /// Runs `kubectl-isvc_canary --kubeconfig K ARGS...` against the stub in a terminal of
    /// `rows` × `cols`, with a clean environment (colour on, as on a person's terminal).
    pub fn start(stub: &Stub, args: &[&str], rows: u16, cols: u16) -> Session {
        let (pty, pts) = pty_process::blocking::open().expect("open a pty");
        pty.resize(pty_process::Size::new(rows, cols)).expect("size the pty");
        let config = stub.kubeconfig(NS);
        let child = pty_process::blocking::Command::new(env!("CARGO_BIN_EXE_kubectl-isvc_canary"))
            .env_clear()
            .env("HOME", scratch("home"))
            .env("TERM", "xterm-256color")
            .env("LANG", "C.UTF-8")
            .arg("--kubeconfig")
            .arg(&config)
            .args(args)
            .spawn(pts)
            .expect("spawn the plugin in the pty");
        let pty = Arc::new(pty);
        let rows_cols = (rows.try_into().expect("rows"), cols.try_into().expect("cols"));
        let parser = Arc::new(Mutex::new(vt100::Parser::new(rows_cols.0, rows_cols.1, 0)));
        let reader = {
            let (pty, parser) = (Arc::clone(&pty), Arc::clone(&parser));
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                // Ends with EIO once the plugin has exited and the terminal's other end is closed.
                while let Ok(n) = (&*pty).read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    parser.lock().expect("parser").process(&buf[..n]);
                }
            })
        };
        Session { pty, child, parser, reader: Some(reader), command: format!("{} ({rows}x{cols})", args.join(" ")) }
    }

    pub fn screen(&self) -> Screen {
        Screen::of(self.parser.lock().expect("parser").screen())
    }

    /// Waits until the screen satisfies `ready` (polled, up to [`LIMIT`]); panics with the screen
    /// otherwise, or when the plugin ends first.
    #[track_caller]
    pub fn wait_for(&mut self, what: &str, ready: impl Fn(&Screen) -> bool) -> Screen {
        let deadline = Instant::now() + LIMIT;
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                // Everything it printed is read once the reader has seen the terminal close.
                if let Some(reader) = self.reader.take() {
                    let _ = reader.join();
                }
                let screen = self.screen();
                if ready(&screen) {
                    return screen;
                }
                panic!("`{}` ended ({status}) before the screen showed {what}:\n{}", self.command, screen.show());
            }
            assert!(Instant::now() < deadline, "the screen never showed {what} ({}):\n{}", self.command, screen.show());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until the screen shows `needle`.
    #[track_caller]
    pub fn wait_text(&mut self, needle: &str) -> Screen {
        self.wait_for(&format!("{needle:?}"), |s| s.has(needle))
    }

    /// Types into the terminal.
    pub fn send(&self, bytes: &[u8]) {
        let mut pty = &*self.pty;
        pty.write_all(bytes).expect("type into the pty");
        pty.flush().expect("flush the pty");
    }

    /// Sends SIGINT to the plugin from outside (as `kill -INT` would), whatever mode its
    /// terminal is in.
    pub fn interrupt(&self) {
        let pid = rustix::process::Pid::from_child(&self.child);
        rustix::process::kill_process(pid, rustix::process::Signal::INT).expect("send SIGINT");
    }

    /// The terminal is in its normal (cooked) mode: lines edited by the terminal, keys echoed,
    /// Ctrl-C a signal; not the raw mode a prompt reads keys in.
    pub fn cooked(&self) -> bool {
        use rustix::termios::LocalModes;
        let termios = rustix::termios::tcgetattr(&*self.pty).expect("read the terminal's mode");
        termios.local_modes.contains(LocalModes::ICANON | LocalModes::ECHO | LocalModes::ISIG)
    }

    /// Waits until the plugin has put its terminal in raw mode (a prompt reading keys).
    #[track_caller]
    pub fn wait_raw(&self) {
        let deadline = Instant::now() + LIMIT;
        while self.cooked() {
            assert!(
                Instant::now() < deadline,
                "the terminal never went raw ({}):\n{}",
                self.command,
                self.screen().show()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the plugin to exit (killing it after [`LIMIT`]) and for its last output.
    pub fn end(mut self) -> Ended {
        let deadline = Instant::now() + LIMIT;
        let code = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.code(),
                Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(20)),
                _ => {
                    let _ = self.child.kill();
                    let _ = self.child.wait();
                    break None;
                }
            }
        };
        if let Some(reader) = self.reader.take() {
            let _ = reader.join();
        }
        Ended { code, screen: self.screen(), cooked: self.cooked() }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Ended {
    /// The exit code and the screen, for assertion messages.
    pub fn describe(&self) -> String {
        format!("--- exit: {:?}\n--- screen:\n{}", self.code, self.screen.show())
    }

    #[track_caller]
    pub fn code(&self, want: i32) -> &Ended {
        assert_eq!(self.code, Some(want), "unexpected exit code\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn shows(&self, needle: &str) -> &Ended {
        assert!(self.screen.has(needle), "the screen lacks {needle:?}\n{}", self.describe());
        self
    }

    #[track_caller]
    pub fn lacks(&self, needle: &str) -> &Ended {
        assert!(!self.screen.has(needle), "the screen still shows {needle:?}\n{}", self.describe());
        self
    }

    /// The cursor is visible (no `\e[?25l` left without its `\e[?25h`).
    #[track_caller]
    pub fn cursor_visible(&self) -> &Ended {
        assert!(!self.screen.cursor_hidden, "the cursor is left hidden\n{}", self.describe());
        self
    }

    /// The terminal is back in its normal mode.
    #[track_caller]
    pub fn cooked(&self) -> &Ended {
        assert!(self.cooked, "the terminal is left in raw mode\n{}", self.describe());
        self
    }

    /// `line` is a row of its own (nothing before it on its row).
    #[track_caller]
    pub fn row_starts(&self, line: &str) -> &Ended {
        assert!(
            self.screen.rows.iter().any(|r| r.starts_with(line)),
            "no row starts with {line:?}\n{}",
            self.describe()
        );
        self
    }
}

/// Runs the plugin to its end in a terminal of `rows` × `cols` and returns the screen.
pub fn run(stub: &Stub, args: &[&str], rows: u16, cols: u16) -> Ended {
    Session::start(stub, args, rows, cols).end()
}
