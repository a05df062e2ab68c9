//! Pseudo-terminal tests: the built plugin in a terminal of a set size, against a scripted API
//! server on loopback, its output laid out by a terminal emulator, as a person at the terminal
//! sees it. No cluster, no `script`, no fixed sleeps: a test waits for the screen to show
//! something (polling against a deadline) before it types.
//!
//! - `stub`: the scripted HTTP/1.1 API server (rules, replies computed per request, watches
//!   held open or released by the test)
//! - `objects`: a Knative-mode InferenceService through a canary, its Tables, revisions, pods
//! - `term`: the pty, the emulator, waiting on the screen, the exit code and the cursor
//! - `prompts`: Ctrl-C (and no) at the confirmation and in the picker; Ctrl-C after a yes while
//!   the write is under way
//! - `waits`: Ctrl-C while the spinner shows, with and without a prompt before it; an error
//!   while it shows
//! - `watch`: `status --watch` redrawn at 80, 120 and 250 columns equals a fresh render

mod objects;
#[path = "../api/stub.rs"]
mod stub;
mod term;

mod prompts;
mod rollout;
mod waits;
mod watch;
