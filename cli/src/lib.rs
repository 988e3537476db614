//! The snapstate command's library: the workloads behind `simulate`, `replay` and `bench`.
