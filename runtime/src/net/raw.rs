//! The raw-fd traits every socket type implements, the same way for each: `AsRawFd`,
//! `AsFd` and `IntoRawFd` through its `PollFd`, and `FromRawFd` through its `from_fd`
//! after putting the socket in non-blocking mode.

/// Implements `AsRawFd`, `AsFd`, `IntoRawFd` and `FromRawFd` for `$ty`, a socket type
/// with a `fd: PollFd<_>` field and a `from_fd(OwnedFd) -> $ty` constructor. `$what`
/// says what `from_raw_fd` takes over ("a connected TCP socket").
macro_rules! raw_fd_traits {
    ($ty:ident, $what:literal) => {
        impl std::os::fd::AsRawFd for $ty {
            fn as_raw_fd(&self) -> std::os::fd::RawFd {
                std::os::fd::AsRawFd::as_raw_fd(&self.fd)
            }
        }

        impl std::os::fd::AsFd for $ty {
            fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
                std::os::fd::AsFd::as_fd(&self.fd)
            }
        }

        impl std::os::fd::IntoRawFd for $ty {
            fn into_raw_fd(self) -> std::os::fd::RawFd {
                std::os::fd::IntoRawFd::into_raw_fd(self.fd.into_inner())
            }
        }

        impl std::os::fd::FromRawFd for $ty {
            #[doc = concat!("Takes over ", $what, ", putting it in non-blocking mode.")]
            ///
            /// # Safety
            ///
            /// `fd` is an open socket that the caller owns and gives away.
            unsafe fn from_raw_fd(fd: std::os::fd::RawFd) -> $ty {
                // An error here (a bad fd) resurfaces on the first use.
                let _ = $crate::net::sys::set_nonblocking(fd, true);
                // SAFETY: per the contract.
                $ty::from_fd(unsafe {
                    <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd)
                })
            }
        }
    };
}

pub(super) use raw_fd_traits;
