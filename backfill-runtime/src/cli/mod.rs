//! The command line a service embeds (being written).
