//! Leaving a prompt: Ctrl-C at "Apply to …?" and in the InferenceService picker, read as a key or
//! as a signal, ends with exit 130, the cursor shown and one line saying nothing was changed.

use std::time::{Duration, Instant};

use crate::objects::{NAME, State, isvc_list_path, isvc_path, list};
use crate::stub::{End, Reply, Route, Stub, Watch};
use crate::term::{CTRL_C, LIMIT, Session};

/// One InferenceService, deployed; any PATCH would be recorded (and answered 404).
fn one() -> Stub {
    let stub = Stub::start();
    stub.on(Route::get(isvc_path(NAME)), [Reply::ok(State::deployed().object())]);
    stub
}

/// Two InferenceServices in the namespace: `set` without NAME offers the picker.
fn two() -> Stub {
    let stub = one();
    let wine = State::deployed().named("wine");
    stub.on(Route::get(isvc_list_path()), [Reply::ok(list(&[&State::deployed(), &wine]))]);
    stub
}

#[track_caller]
fn no_write(stub: &Stub) {
    let writes: Vec<String> = stub.requests().iter().filter(|r| r.method != "GET").map(|r| r.line()).collect();
    assert!(writes.is_empty(), "nothing may be written, but: {writes:#?}");
}

#[test]
fn ctrl_c_at_the_confirmation_changes_nothing_and_restores_the_terminal() {
    let stub = one();
    let mut s = Session::start(&stub, &["set", NAME, "10"], 24, 100);
    s.wait_text("Apply to team-a/iris?");
    s.send(CTRL_C);
    let end = s.end();
    end.code(130)
        .row_starts("Apply to team-a/iris?")
        .row_starts("error: interrupted: nothing was changed")
        .cursor_visible()
        .cooked();
    no_write(&stub);
}

#[test]
fn sigint_from_outside_at_the_confirmation_ends_the_same_way() {
    let stub = one();
    let mut s = Session::start(&stub, &["set", NAME, "10"], 24, 100);
    s.wait_text("Apply to team-a/iris?");
    // The prompt reads keys on a raw terminal: this Ctrl-C comes as a signal, not as a key.
    s.wait_raw();
    s.interrupt();
    let end = s.end();
    end.code(130).row_starts("error: interrupted: nothing was changed").cursor_visible().cooked();
    no_write(&stub);
}

#[test]
fn no_at_the_confirmation_changes_nothing_and_shows_the_cursor() {
    let stub = one();
    let mut s = Session::start(&stub, &["set", NAME, "10"], 24, 100);
    s.wait_text("Apply to team-a/iris?");
    s.send(b"n");
    let end = s.end();
    end.code(130).row_starts("error: declined: nothing was changed").cursor_visible();
    no_write(&stub);
}

#[test]
fn ctrl_c_in_the_picker_changes_nothing_and_restores_the_terminal() {
    let stub = two();
    let mut s = Session::start(&stub, &["set", "10"], 24, 100);
    s.wait_text("wine");
    s.send(CTRL_C);
    let end = s.end();
    end.code(130).row_starts("error: interrupted: nothing was changed").cursor_visible().cooked();
    no_write(&stub);
}

#[test]
fn ctrl_c_at_the_confirmation_after_picking_changes_nothing() {
    let stub = two();
    let mut s = Session::start(&stub, &["set", "10"], 24, 100);
    s.wait_text("wine");
    s.send(b"\r");
    s.wait_text("Apply to team-a/iris?");
    s.send(CTRL_C);
    let end = s.end();
    end.code(130).row_starts("error: interrupted: nothing was changed").cursor_visible();
    no_write(&stub);
}

#[test]
fn ctrl_c_after_yes_while_the_write_is_under_way_says_it_may_be_applied() {
    let stub = one();
    // The PATCH is answered with headers and a body that never ends: the write is in flight.
    stub.on(Route::patch(isvc_path(NAME)), [Watch::new().end(End::Hold)]);
    let mut s = Session::start(&stub, &["set", NAME, "10"], 24, 100);
    s.wait_text("Apply to team-a/iris?");
    s.send(b"y");
    let deadline = Instant::now() + LIMIT;
    while !stub.requests().iter().any(|r| r.method == "PATCH") {
        assert!(Instant::now() < deadline, "no PATCH was sent:\n{}", s.screen().show());
        std::thread::sleep(Duration::from_millis(20));
    }
    s.send(CTRL_C);
    let end = s.end();
    end.code(130)
        .row_starts("error: interrupted after the change was confirmed: it may have been applied")
        .cursor_visible()
        .cooked();
}
