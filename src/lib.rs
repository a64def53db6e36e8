//! The Outpost browser app.
