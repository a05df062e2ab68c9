//! `status --watch` on a terminal: after each change the screen is exactly what one `status` run
//! of that state shows in a terminal of the same size, at widths where its lines wrap (80, 120)
//! and where they do not (250). The states go from short to long frames and back, so stale rows
//! would show.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::objects::{NAME, State, isvc_path, pods_path, revisions_path};
use crate::stub::{Reply, Route, Stub};
use crate::term::{CTRL_C, Screen, Session, run};

/// Rows of the terminal: every frame fits.
const ROWS: u16 = 40;

/// The states the watch goes through: deployed, canary starting (conditions not True, a pod
/// initialising), canary serving 10%, promoted (a pod terminating).
fn states() -> Vec<State> {
    vec![State::deployed(), State::canary_starting(10), State::canary(10), State::promoted()]
}

/// A stub that answers `status NAME`'s three reads (the InferenceService Table, the revisions,
/// the pod Table) from the state `current` points at.
fn stub(states: Vec<State>, current: Arc<AtomicUsize>) -> Stub {
    let stub = Stub::start();
    let states = Arc::new(states);
    let now = move |states: &[State]| states[current.load(Ordering::SeqCst).min(states.len() - 1)].clone();
    let (s, n) = (Arc::clone(&states), now.clone());
    stub.on_fn(Route::get(isvc_path(NAME)), move |_| Reply::ok(n(&s).table()));
    let (s, n) = (Arc::clone(&states), now.clone());
    stub.on_fn(Route::get(revisions_path()), move |_| Reply::ok(n(&s).revisions()));
    let (s, n) = (Arc::clone(&states), now);
    stub.on_fn(Route::get(pods_path()), move |_| Reply::ok(n(&s).pod_table()));
    stub
}

/// The screen of one `status NAME` run of `state`.
fn fresh(state: &State, rows: u16, cols: u16) -> Screen {
    let stub = stub(vec![state.clone()], Arc::new(AtomicUsize::new(0)));
    let end = run(&stub, &["status", NAME], rows, cols);
    end.code(0);
    end.screen
}

fn redraws_like_a_fresh_render(rows: u16, cols: u16) -> Screen {
    let states = states();
    let fresh: Vec<Screen> = states.iter().map(|s| fresh(s, rows, cols)).collect();
    // At 80 and 120 columns some lines are wider than the terminal and wrap; at 250 none does.
    let widest = fresh.iter().flat_map(|s| s.contents.lines().map(|l| l.chars().count())).max().unwrap_or(0);
    assert_eq!(widest > usize::from(cols), cols < 250, "widest line: {widest} at {cols} columns");
    let current = Arc::new(AtomicUsize::new(0));
    let stub = stub(states, Arc::clone(&current));
    let mut s = Session::start(&stub, &["status", NAME, "--watch"], rows, cols);
    for (i, want) in fresh.iter().enumerate() {
        // The next state is served once the previous one is on the screen.
        current.store(i, Ordering::SeqCst);
        s.wait_for(&format!("state {i} as one `status` run shows it:\n{}", want.show()), |screen| {
            screen.rows == want.rows && screen.cursor == want.cursor
        });
    }
    let last = s.screen();
    s.send(CTRL_C);
    let end = s.end();
    end.code(0).cursor_visible();
    let want = &fresh[fresh.len() - 1];
    assert_eq!(end.screen.rows, want.rows, "after Ctrl-C the last frame stays as it was\n{}", end.describe());
    last
}

#[test]
fn watch_redraws_at_80_columns() {
    let screen = redraws_like_a_fresh_render(ROWS, 80);
    // The screen after three changes, for a person to look at: `cargo test --test pty -- --nocapture`.
    println!("status --watch at 80 columns after 3 changes:\n{}", screen.show());
}

#[test]
fn watch_redraws_at_120_columns() {
    redraws_like_a_fresh_render(ROWS, 120);
}

#[test]
fn watch_redraws_at_250_columns() {
    redraws_like_a_fresh_render(ROWS, 250);
}

#[test]
fn watch_redraws_frames_taller_than_the_screen() {
    // The top of a frame taller than the screen scrolls away; going back up, the cursor stops at
    // the top row, and the screen still shows what a fresh render shows.
    let rows = 12;
    let tallest = states().iter().map(|s| fresh(s, ROWS, 80).cursor.0).max().unwrap_or(0);
    assert!(tallest > rows, "no frame is taller than {rows} rows at 80 columns ({tallest})");
    redraws_like_a_fresh_render(rows, 80);
}
