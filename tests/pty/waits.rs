//! Leaving a wait: Ctrl-C while the spinner shows (after `--yes`, or after answering the prompt)
//! and an error returned while it shows. The spinner's line is cleared (no frame left, no `^C`),
//! the cursor shown, and what is applied is said on lines of their own.

use crate::objects::{NAME, State, event, isvc_list_path, isvc_path};
use crate::stub::{End, Gate, Reply, Route, Stub, Watch};
use crate::term::{CTRL_C, Ended, Session};

/// What every frame of the spinner shows (the message of a wait for a split).
const SPINNER: &str = "iris: traffic ";
const UNDO: &str = "note: the change is applied (nothing was reverted); to undo it: \
                    kubectl isvc-canary -n team-a promote iris";

/// `set iris 10 --wait` against a deployed InferenceService: the PATCH answered, the watch held
/// open with `watch` on it (nothing, unless the test opens a gate).
fn stub(watch: Reply) -> Stub {
    let stub = Stub::start();
    let before = State::deployed();
    stub.on(Route::get(isvc_path(NAME)), [Reply::ok(before.object())]);
    stub.on(Route::patch(isvc_path(NAME)), [Reply::ok(before.ctp(Some(10)).rv(101).object())]);
    stub.on(Route::watch(isvc_list_path()), [watch]);
    stub
}

/// Waits until the spinner shows the wait's message: the wait's Ctrl-C listener is set up before
/// the spinner appears, so a Ctrl-C from then on is the wait's.
#[track_caller]
fn wait_spinning(s: &mut Session) {
    s.wait_for("the spinner", |screen| screen.rows.iter().any(|r| r.contains(SPINNER)));
}

#[track_caller]
fn left_clean(end: &Ended) {
    end.lacks(SPINNER).lacks("^C").cursor_visible();
}

#[test]
fn ctrl_c_while_waiting_clears_the_spinner_and_says_how_to_undo() {
    let stub = stub(Watch::new().end(End::Hold));
    let mut s = Session::start(&stub, &["set", NAME, "10", "--wait", "--yes"], 24, 120);
    wait_spinning(&mut s);
    s.send(CTRL_C);
    let end = s.end();
    end.code(130).row_starts(UNDO).row_starts("error: interrupted while waiting for 10%");
    left_clean(&end);
}

#[test]
fn ctrl_c_while_waiting_after_the_prompt_says_how_to_undo_once() {
    let stub = stub(Watch::new().end(End::Hold));
    let mut s = Session::start(&stub, &["set", NAME, "10", "--wait"], 30, 120);
    s.wait_text("Apply to team-a/iris?");
    s.send(b"y");
    wait_spinning(&mut s);
    s.send(CTRL_C);
    let end = s.end();
    end.code(130)
        .row_starts(UNDO)
        .row_starts("error: interrupted while waiting for 10%")
        .lacks("may have been applied");
    assert_eq!(end.screen.contents.matches("error:").count(), 1, "one error line\n{}", end.describe());
    left_clean(&end);
}

#[test]
fn an_error_while_the_spinner_shows_clears_it() {
    let deleted = Gate::new();
    let stub = stub(Watch::new().when(&deleted, event("DELETED", &State::deployed())).end(End::Hold));
    let mut s = Session::start(&stub, &["set", NAME, "10", "--wait", "--yes"], 24, 120);
    s.wait_text(SPINNER);
    deleted.open();
    let end = s.end();
    end.code(6).row_starts("error: inferenceservice iris was deleted while waiting");
    left_clean(&end);
}
