//! Progressive rollouts: the plan, the gates, the records kept in the Lease, the events and the
//! live view. Pure except `lease` (its API calls) and the gates' own I/O; the command that
//! drives them is `cmd::rollout`.

pub mod events;
pub mod gate;
pub mod http;
pub mod lease;
pub mod metric;
pub mod plan;
pub mod state;
pub mod verdict;
pub mod view;
