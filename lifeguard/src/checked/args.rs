//! Arguments of a checked query, held by reference (as the caller wrote them) until the
//! query runs, then lent to the driver as `&[&(dyn ToSql + Sync)]` without allocating.

use crate::ToSql;

/// A tuple of query arguments.
pub trait Args {
    /// Calls `f` with the arguments as a parameter slice.
    fn with_params<R>(&self, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> R) -> R;
}

impl Args for () {
    fn with_params<R>(&self, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> R) -> R {
        f(&[])
    }
}

macro_rules! tuple_args {
    ($($name:ident . $idx:tt),+) => {
        impl<$($name: ToSql + Sync),+> Args for ($($name,)+) {
            fn with_params<R>(&self, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> R) -> R {
                f(&[$(&self.$idx),+])
            }
        }
    };
}

tuple_args!(A.0);
tuple_args!(A.0, B.1);
tuple_args!(A.0, B.1, C.2);
tuple_args!(A.0, B.1, C.2, D.3);
tuple_args!(A.0, B.1, C.2, D.3, E.4);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10);
tuple_args!(A.0, B.1, C.2, D.3, E.4, F.5, G.6, H.7, I.8, J.9, K.10, L.11);

/// More than twelve arguments: the macros pass them as a vector of references.
impl Args for Vec<&(dyn ToSql + Sync)> {
    fn with_params<R>(&self, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> R) -> R {
        f(self)
    }
}
