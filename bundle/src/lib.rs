//! The usernetes release format.
