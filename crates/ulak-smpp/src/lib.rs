//! SMPP 3.4 stack (see issue 4).
