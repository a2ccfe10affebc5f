//! Lifeguard procedural macros (compile-time checked SQL arrives in a later issue).
