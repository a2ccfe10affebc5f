//! Holds the workspace-level examples and integration tests.
