//! Outpost sync server (filled in by the server issue).
