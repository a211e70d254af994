//! TLS with the system OpenSSL (feature `openssl`): RHEL's libssl, whose FIPS validation and
//! crypto-policies OpenShift in FIPS mode relies on. The library is loaded (`dlopen` of
//! `libssl.so.3`, which brings `libcrypto.so.3`) when the first client is set up, not when the
//! process starts: a run that makes no API call (no mirror for the image, no registries.conf)
//! never maps or relocates libcrypto, which with Debian 12's OpenSSL 3.0 cost 3.2 M instructions
//! and 1.2 MiB of memory on every run.
//!
//! The context trusts the configured CA alone: its store gets no default verify paths, so the
//! system bundle is neither read nor trusted. It sets no cipher list: the system's (crypto-policies
//! on RHEL) applies, and the protocol is at least TLS 1.2. A connection verifies the server's name
//! (or IP address) and offers ALPN `h2` and `http/1.1`. Its bytes go through a BIO that calls the
//! TCP stream's own `poll_read` and `poll_write`, so a socket's error reaches the caller as it was.

use std::ffi::{CStr, CString, c_char, c_int, c_long, c_uint, c_ulong, c_void};
use std::future::Future;
use std::mem::MaybeUninit;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context as TaskContext, Poll};
use std::{io, ptr};

use hyper_util::client::legacy::connect::{Connected, Connection};

/// The soname of OpenSSL 3's libssl: RHEL 9's and Debian 12's.
const LIBSSL: &CStr = c"libssl.so.3";

/// Opaque OpenSSL types.
enum SslCtx {}
enum Ssl {}
enum SslMethod {}
enum Bio {}
enum BioMethod {}
enum X509 {}
enum X509Store {}
enum X509VerifyParam {}

// Constants of OpenSSL 3's headers (ssl.h, bio.h, crypto.h, tls1.h, x509v3.h, x509_vfy.h).
const OPENSSL_INIT_NO_ATEXIT: u64 = 0x0008_0000;
const OPENSSL_INIT_LOAD_SSL_STRINGS: u64 = 0x0020_0000;
const SSL_CTRL_MODE: c_int = 33;
const SSL_CTRL_SET_TLSEXT_HOSTNAME: c_int = 55;
const SSL_CTRL_SET_MIN_PROTO_VERSION: c_int = 123;
const SSL_CTRL_GET_MIN_PROTO_VERSION: c_int = 130;
const TLSEXT_NAMETYPE_HOST_NAME: c_long = 0;
const TLS1_2_VERSION: c_long = 0x0303;
const SSL_MODE_ENABLE_PARTIAL_WRITE: c_long = 0x1;
const SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: c_long = 0x2;
const SSL_VERIFY_NONE: c_int = 0;
const SSL_VERIFY_PEER: c_int = 1;
const SSL_ERROR_WANT_READ: c_int = 2;
const SSL_ERROR_WANT_WRITE: c_int = 3;
const SSL_ERROR_SYSCALL: c_int = 5;
const SSL_ERROR_ZERO_RETURN: c_int = 6;
const X509_V_OK: c_long = 0;
const X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS: c_uint = 0x4;
const X509_V_FLAG_PARTIAL_CHAIN: c_ulong = 0x80000;
const BIO_TYPE_NONE: c_int = 0;
const BIO_CTRL_FLUSH: c_int = 11;
const BIO_FLAGS_READ: c_int = 0x01;
const BIO_FLAGS_WRITE: c_int = 0x02;
const BIO_FLAGS_RWS: c_int = 0x07;
const BIO_FLAGS_SHOULD_RETRY: c_int = 0x08;
const ERR_TXT_STRING: c_int = 0x02;

/// ALPN: HTTP/2 first (`transport`), then HTTP/1.1, in the wire's length-prefixed form.
const ALPN: &[u8] = b"\x02h2\x08http/1.1";

/// The functions of libssl and libcrypto used here, with their C signatures.
macro_rules! library {
    ($($name:ident: fn($($arg:ty),*) $(-> $ret:ty)?;)*) => {
        #[allow(non_snake_case)]
        struct Library {
            $($name: unsafe extern "C" fn($($arg),*) $(-> $ret)?,)*
        }

        impl Library {
            /// Loads libssl and finds every function, or says what failed.
            fn open() -> Result<Library, String> {
                // SAFETY: dlopen and dlsym with NUL-terminated names. Loading libssl runs
                // OpenSSL's constructors only, and it stays loaded until the process ends.
                unsafe {
                    let handle = libc::dlopen(LIBSSL.as_ptr(), libc::RTLD_NOW | libc::RTLD_LOCAL);
                    if handle.is_null() {
                        return Err(dlerror());
                    }
                    Ok(Library {
                        $($name: {
                            let name = concat!(stringify!($name), "\0");
                            let symbol = libc::dlsym(handle, name.as_ptr().cast());
                            if symbol.is_null() {
                                return Err(dlerror());
                            }
                            // SAFETY: the symbol is that function, of the signature declared
                            // here as in OpenSSL 3's headers.
                            std::mem::transmute::<
                                *mut c_void,
                                unsafe extern "C" fn($($arg),*) $(-> $ret)?,
                            >(symbol)
                        },)*
                    })
                }
            }
        }
    };
}

library! {
    OPENSSL_init_ssl: fn(u64, *const c_void) -> c_int;
    TLS_client_method: fn() -> *const SslMethod;
    SSL_CTX_new: fn(*const SslMethod) -> *mut SslCtx;
    SSL_CTX_free: fn(*mut SslCtx);
    SSL_CTX_ctrl: fn(*mut SslCtx, c_int, c_long, *mut c_void) -> c_long;
    SSL_CTX_set_verify: fn(*mut SslCtx, c_int, *const c_void);
    SSL_CTX_set_alpn_protos: fn(*mut SslCtx, *const u8, c_uint) -> c_int;
    SSL_CTX_get_cert_store: fn(*const SslCtx) -> *mut X509Store;
    SSL_CTX_get0_param: fn(*mut SslCtx) -> *mut X509VerifyParam;
    X509_VERIFY_PARAM_set_flags: fn(*mut X509VerifyParam, c_ulong) -> c_int;
    X509_STORE_add_cert: fn(*mut X509Store, *mut X509) -> c_int;
    d2i_X509: fn(*mut *mut X509, *mut *const u8, c_long) -> *mut X509;
    X509_free: fn(*mut X509);
    X509_verify_cert_error_string: fn(c_long) -> *const c_char;
    X509_VERIFY_PARAM_set_hostflags: fn(*mut X509VerifyParam, c_uint);
    X509_VERIFY_PARAM_set1_ip_asc: fn(*mut X509VerifyParam, *const c_char) -> c_int;
    SSL_new: fn(*mut SslCtx) -> *mut Ssl;
    SSL_free: fn(*mut Ssl);
    SSL_ctrl: fn(*mut Ssl, c_int, c_long, *mut c_void) -> c_long;
    SSL_set1_host: fn(*mut Ssl, *const c_char) -> c_int;
    SSL_get0_param: fn(*mut Ssl) -> *mut X509VerifyParam;
    SSL_set_bio: fn(*mut Ssl, *mut Bio, *mut Bio);
    SSL_connect: fn(*mut Ssl) -> c_int;
    SSL_read_ex: fn(*mut Ssl, *mut c_void, usize, *mut usize) -> c_int;
    SSL_write_ex: fn(*mut Ssl, *const c_void, usize, *mut usize) -> c_int;
    SSL_shutdown: fn(*mut Ssl) -> c_int;
    SSL_get_error: fn(*const Ssl, c_int) -> c_int;
    SSL_get0_alpn_selected: fn(*const Ssl, *mut *const u8, *mut c_uint);
    SSL_get_verify_result: fn(*const Ssl) -> c_long;
    ERR_get_error_all: fn(*mut *const c_char, *mut c_int, *mut *const c_char, *mut *const c_char, *mut c_int) -> c_ulong;
    ERR_error_string_n: fn(c_ulong, *mut c_char, usize);
    ERR_clear_error: fn();
    BIO_meth_new: fn(c_int, *const c_char) -> *mut BioMethod;
    BIO_meth_set_write_ex: fn(*mut BioMethod, unsafe extern "C" fn(*mut Bio, *const c_char, usize, *mut usize) -> c_int) -> c_int;
    BIO_meth_set_read_ex: fn(*mut BioMethod, unsafe extern "C" fn(*mut Bio, *mut c_char, usize, *mut usize) -> c_int) -> c_int;
    BIO_meth_set_ctrl: fn(*mut BioMethod, unsafe extern "C" fn(*mut Bio, c_int, c_long, *mut c_void) -> c_long) -> c_int;
    BIO_new: fn(*const BioMethod) -> *mut Bio;
    BIO_set_data: fn(*mut Bio, *mut c_void);
    BIO_get_data: fn(*mut Bio) -> *mut c_void;
    BIO_set_init: fn(*mut Bio, c_int);
    BIO_set_flags: fn(*mut Bio, c_int);
    BIO_clear_flags: fn(*mut Bio, c_int);
}

fn dlerror() -> String {
    // SAFETY: dlerror returns NULL or a NUL-terminated message.
    let message = unsafe { libc::dlerror() };
    if message.is_null() {
        return "unknown error".to_string();
    }
    // SAFETY: non-NULL, NUL-terminated (above).
    unsafe { CStr::from_ptr(message) }
        .to_string_lossy()
        .into_owned()
}

/// The loaded library, with OpenSSL initialised (its configuration read: FIPS mode and
/// crypto-policies come from `openssl.cnf`) and the BIO method of our streams made; once per
/// process.
fn library() -> io::Result<&'static Loaded> {
    static LOADED: OnceLock<Result<Loaded, String>> = OnceLock::new();
    LOADED
        .get_or_init(|| {
            let library = Library::open().map_err(|error| {
                format!("loading the system OpenSSL ({error}); install it (openssl-libs on RHEL)")
            })?;
            // SAFETY: the functions of OpenSSL 3 with their arguments as documented; a BIO method
            // lives as long as the process.
            unsafe {
                // The first call into OpenSSL: any other (ERR_clear_error too) initialises it
                // without NO_ATEXIT, and OPENSSL_cleanup then frees it all at exit (1.4 M
                // instructions with OpenSSL 3.0).
                if (library.OPENSSL_init_ssl)(
                    OPENSSL_INIT_LOAD_SSL_STRINGS | OPENSSL_INIT_NO_ATEXIT,
                    ptr::null(),
                ) != 1
                {
                    return Err(format!("initialising OpenSSL: {}", library.errors()));
                }
                let method =
                    (library.BIO_meth_new)(BIO_TYPE_NONE, c"crio-credential-provider".as_ptr());
                if method.is_null()
                    || (library.BIO_meth_set_write_ex)(method, bio_write) != 1
                    || (library.BIO_meth_set_read_ex)(method, bio_read) != 1
                    || (library.BIO_meth_set_ctrl)(method, bio_ctrl) != 1
                {
                    return Err(format!("making OpenSSL's BIO method: {}", library.errors()));
                }
                Ok(Loaded { library, method })
            }
        })
        .as_ref()
        .map_err(|error| io::Error::other(error.clone()))
}

struct Loaded {
    library: Library,
    method: *mut BioMethod,
}

// SAFETY: the BIO method is only read after it is made; OpenSSL's functions are thread-safe.
unsafe impl Send for Loaded {}
unsafe impl Sync for Loaded {}

impl Library {
    /// OpenSSL's error queue of this thread, emptied into one line (`error:0A000086:SSL
    /// routines::certificate verify failed`, with any detail OpenSSL added after a colon).
    fn errors(&self) -> String {
        let mut errors = Vec::new();
        loop {
            let mut data: *const c_char = ptr::null();
            let mut flags: c_int = 0;
            // SAFETY: out-pointers that OpenSSL may leave unset; data is valid until the next
            // call on this thread's queue, and copied before it.
            let code = unsafe {
                (self.ERR_get_error_all)(
                    ptr::null_mut(),
                    ptr::null_mut(),
                    ptr::null_mut(),
                    &mut data,
                    &mut flags,
                )
            };
            if code == 0 {
                break;
            }
            let mut text = [0 as c_char; 256];
            // SAFETY: writes at most text.len() bytes, NUL-terminated.
            unsafe { (self.ERR_error_string_n)(code, text.as_mut_ptr(), text.len()) };
            // SAFETY: NUL-terminated (above).
            let mut line = unsafe { CStr::from_ptr(text.as_ptr()) }
                .to_string_lossy()
                .into_owned();
            if flags & ERR_TXT_STRING != 0 && !data.is_null() {
                // SAFETY: with ERR_TXT_STRING, data is a NUL-terminated string.
                let detail = unsafe { CStr::from_ptr(data) }.to_string_lossy();
                if !detail.is_empty() {
                    line = format!("{line}: {detail}");
                }
            }
            errors.push(line);
        }
        if errors.is_empty() {
            "no error reported".to_string()
        } else {
            errors.join("; ")
        }
    }
}

/// An OpenSSL context: the CA and the settings every connection shares.
struct SslContext {
    loaded: &'static Loaded,
    context: *mut SslCtx,
    verify: bool,
}

// SAFETY: an SSL_CTX is not changed after it is made, and OpenSSL locks what SSL_new changes.
unsafe impl Send for SslContext {}
unsafe impl Sync for SslContext {}

impl Drop for SslContext {
    fn drop(&mut self) {
        // SAFETY: made by SSL_CTX_new; connections hold a reference of their own.
        unsafe { (self.loaded.library.SSL_CTX_free)(self.context) }
    }
}

impl SslContext {
    /// `roots`: the DER certificates to trust; `None`: any certificate (`--insecure-skip-tls-verify`).
    fn new(roots: Option<&[Vec<u8>]>) -> anyhow::Result<SslContext> {
        use anyhow::{Context, bail};
        let loaded = library()?;
        let library = &loaded.library;
        // SAFETY: OpenSSL 3's functions with the arguments their manual pages give; each pointer
        // is checked before it is used, and the context is freed by its Drop.
        unsafe {
            (library.ERR_clear_error)();
            let context = (library.SSL_CTX_new)((library.TLS_client_method)());
            if context.is_null() {
                bail!("making an OpenSSL context: {}", library.errors());
            }
            let context = SslContext {
                loaded,
                context,
                verify: roots.is_some(),
            };
            let ctx = context.context;
            // Never below TLS 1.2, and never below what the system's configuration asks for.
            if (library.SSL_CTX_ctrl)(ctx, SSL_CTRL_GET_MIN_PROTO_VERSION, 0, ptr::null_mut())
                < TLS1_2_VERSION
                && (library.SSL_CTX_ctrl)(
                    ctx,
                    SSL_CTRL_SET_MIN_PROTO_VERSION,
                    TLS1_2_VERSION,
                    ptr::null_mut(),
                ) != 1
            {
                bail!(
                    "setting TLS 1.2 as the lowest version: {}",
                    library.errors()
                );
            }
            // hyper may offer a write again from another buffer, and takes partial writes.
            (library.SSL_CTX_ctrl)(
                ctx,
                SSL_CTRL_MODE,
                SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
                ptr::null_mut(),
            );
            // Every certificate of the CA bundle vouches for the server, a root or not, as with
            // rustls and Go's crypto/x509, whose roots pool anchors an intermediate too
            // (golang/go#51953): kubelet's and kubectl's client-go.
            if (library.X509_VERIFY_PARAM_set_flags)(
                (library.SSL_CTX_get0_param)(ctx),
                X509_V_FLAG_PARTIAL_CHAIN,
            ) != 1
            {
                bail!(
                    "trusting the CA bundle's certificates: {}",
                    library.errors()
                );
            }
            let store = (library.SSL_CTX_get_cert_store)(ctx);
            for der in roots.into_iter().flatten() {
                let mut input = der.as_ptr();
                let length = c_long::try_from(der.len()).context("reading the CA certificate")?;
                let certificate = (library.d2i_X509)(ptr::null_mut(), &mut input, length);
                if certificate.is_null() {
                    bail!("reading the CA certificate: {}", library.errors());
                }
                if input != der.as_ptr_range().end {
                    (library.X509_free)(certificate);
                    bail!("reading the CA certificate: bytes follow its DER encoding");
                }
                let added = (library.X509_STORE_add_cert)(store, certificate);
                // The store holds a reference of its own.
                (library.X509_free)(certificate);
                if added != 1 {
                    bail!("adding the CA certificate: {}", library.errors());
                }
            }
            let mode = if context.verify {
                SSL_VERIFY_PEER
            } else {
                SSL_VERIFY_NONE
            };
            (library.SSL_CTX_set_verify)(ctx, mode, ptr::null());
            // This one returns 0 on success.
            if (library.SSL_CTX_set_alpn_protos)(ctx, ALPN.as_ptr(), ALPN.len() as c_uint) != 0 {
                bail!("setting ALPN: {}", library.errors());
            }
            Ok(context)
        }
    }
}

/// What the BIO of a stream reaches: the TCP stream, the task's context while an OpenSSL call
/// runs, and the stream's first error, handed to the caller as it was.
struct BioState {
    stream: Box<dyn Io>,
    /// The `TaskContext` of the poll running the OpenSSL call; null between calls.
    context: *mut c_void,
    error: Option<io::Error>,
}

/// What a TLS stream runs over: the transport's TCP stream.
pub trait Io: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send {}
impl<T: hyper::rt::Read + hyper::rt::Write + Connection + Unpin + Send> Io for T {}

/// Which poll of the stream a BIO callback made.
#[derive(PartialEq)]
enum BioPoll {
    Read,
    Write,
    Flush,
}

/// What a poll of the stream gives OpenSSL: 1 on success (a read of nothing is the end of the
/// stream: 0); 0 with the retry flag when the stream is not ready (the task is woken when it
/// is); 0 with the error kept otherwise (a write of nothing is one).
fn bio_result(
    library: &Library,
    state: &mut BioState,
    bio: *mut Bio,
    poll: BioPoll,
    polled: Poll<io::Result<usize>>,
    done: &mut usize,
) -> c_int {
    match polled {
        Poll::Ready(Ok(0)) if poll == BioPoll::Write => {
            state.error.get_or_insert(io::ErrorKind::WriteZero.into());
            0
        }
        Poll::Ready(Ok(count)) => {
            *done = count;
            c_int::from(count > 0 || poll == BioPoll::Flush)
        }
        Poll::Ready(Err(error)) => {
            state.error.get_or_insert(error);
            0
        }
        Poll::Pending => {
            let retry = if poll == BioPoll::Read {
                BIO_FLAGS_READ
            } else {
                BIO_FLAGS_WRITE
            };
            // SAFETY: the BIO is valid during the call.
            unsafe { (library.BIO_set_flags)(bio, retry | BIO_FLAGS_SHOULD_RETRY) };
            0
        }
    }
}

/// What a BIO callback works with: the library, the BIO's state (reached only through the BIO's
/// raw pointer while OpenSSL calls it) and the task's context; the BIO's retry flags cleared.
///
/// SAFETY (of the callers): `bio` is one of our streams', made by `TlsStream::new`, and an
/// OpenSSL call on its SSL is running inside `TlsStream::with_context`.
unsafe fn bio_call<'a>(
    bio: *mut Bio,
) -> (&'static Library, &'a mut BioState, &'a mut TaskContext<'a>) {
    // The library is loaded: the BIO exists.
    let library = &library()
        .expect("a BIO exists, so OpenSSL is loaded")
        .library;
    // SAFETY: as the function's contract says; the context is set by `with_context` for the
    // length of the OpenSSL call.
    unsafe {
        let state = &mut *(library.BIO_get_data)(bio).cast::<BioState>();
        (library.BIO_clear_flags)(bio, BIO_FLAGS_RWS | BIO_FLAGS_SHOULD_RETRY);
        let context = &mut *state.context.cast::<TaskContext<'a>>();
        (library, state, context)
    }
}

unsafe extern "C" fn bio_read(
    bio: *mut Bio,
    buffer: *mut c_char,
    length: usize,
    read: *mut usize,
) -> c_int {
    // SAFETY: OpenSSL calls this for one of our BIOs, inside `with_context`, with a buffer of
    // `length` bytes that may be uninitialised and an out-pointer for the count.
    let (library, state, context) = unsafe { bio_call(bio) };
    let buffer =
        unsafe { std::slice::from_raw_parts_mut(buffer.cast::<MaybeUninit<u8>>(), length) };
    let mut buffer = hyper::rt::ReadBuf::uninit(buffer);
    let polled = Pin::new(&mut *state.stream)
        .poll_read(context, buffer.unfilled())
        .map_ok(|()| buffer.filled().len());
    bio_result(library, state, bio, BioPoll::Read, polled, unsafe {
        &mut *read
    })
}

unsafe extern "C" fn bio_write(
    bio: *mut Bio,
    buffer: *const c_char,
    length: usize,
    written: *mut usize,
) -> c_int {
    // SAFETY: OpenSSL calls this for one of our BIOs, inside `with_context`, with `length` bytes
    // and an out-pointer for the count.
    let (library, state, context) = unsafe { bio_call(bio) };
    let buffer = unsafe { std::slice::from_raw_parts(buffer.cast::<u8>(), length) };
    let polled = Pin::new(&mut *state.stream).poll_write(context, buffer);
    bio_result(library, state, bio, BioPoll::Write, polled, unsafe {
        &mut *written
    })
}

unsafe extern "C" fn bio_ctrl(bio: *mut Bio, command: c_int, _: c_long, _: *mut c_void) -> c_long {
    // Others (EOF, pending bytes, kTLS) are not answered: 0. A read of nothing is the end.
    if command != BIO_CTRL_FLUSH {
        return 0;
    }
    // SAFETY: OpenSSL calls this for one of our BIOs, inside `with_context`.
    let (library, state, context) = unsafe { bio_call(bio) };
    let polled = Pin::new(&mut *state.stream)
        .poll_flush(context)
        .map_ok(|()| 0);
    c_long::from(bio_result(
        library,
        state,
        bio,
        BioPoll::Flush,
        polled,
        &mut 0,
    ))
}

/// A TLS connection over a TCP stream.
pub struct TlsStream {
    ssl: *mut Ssl,
    state: *mut BioState,
    /// The context the SSL was made from, which must outlive it.
    context: Arc<SslContext>,
    h2: bool,
    /// Our close_notify is sent: a shutdown polled again only shuts the TCP stream.
    shutdown_sent: bool,
}

// SAFETY: the SSL and its BIO's state are this stream's alone, used by one thread at a time.
unsafe impl Send for TlsStream {}

impl Drop for TlsStream {
    fn drop(&mut self) {
        // SAFETY: the SSL frees its BIO, which does not touch the state; then the state, made by
        // Box::into_raw, is freed.
        unsafe {
            (self.library().SSL_free)(self.ssl);
            drop(Box::from_raw(self.state));
        }
    }
}

/// What an OpenSSL call on a stream came to.
enum Outcome<T> {
    Done(T),
    /// The stream is not ready: the task is woken when it is.
    Waiting,
    /// The peer ended the TLS session with its close_notify.
    Closed,
    /// Ended in an error: OpenSSL's, or the socket's.
    Failed(io::Error),
}

impl TlsStream {
    fn new(context: Arc<SslContext>, stream: Box<dyn Io>, host: &str) -> anyhow::Result<TlsStream> {
        use anyhow::bail;
        let loaded = context.loaded;
        let library = &loaded.library;
        let name = CString::new(host)
            .map_err(|_| anyhow::anyhow!("setting the server name {host}: it holds a NUL byte"))?;
        // SAFETY: OpenSSL 3's functions as documented; the SSL is owned by the stream from here
        // on, the BIO by the SSL, and the state by the stream.
        unsafe {
            (library.ERR_clear_error)();
            let ssl = (library.SSL_new)(context.context);
            if ssl.is_null() {
                bail!("making an OpenSSL connection: {}", library.errors());
            }
            let state = Box::into_raw(Box::new(BioState {
                stream,
                context: ptr::null_mut(),
                error: None,
            }));
            let tls = TlsStream {
                ssl,
                state,
                context: Arc::clone(&context),
                h2: false,
                shutdown_sent: false,
            };
            let bio = (library.BIO_new)(loaded.method);
            if bio.is_null() {
                bail!("making an OpenSSL BIO: {}", library.errors());
            }
            (library.BIO_set_data)(bio, state.cast());
            (library.BIO_set_init)(bio, 1);
            // One BIO for both directions: the SSL takes the one reference.
            (library.SSL_set_bio)(ssl, bio, bio);
            let ip = host.parse::<IpAddr>().is_ok();
            if !ip
                && (library.SSL_ctrl)(
                    ssl,
                    SSL_CTRL_SET_TLSEXT_HOSTNAME,
                    TLSEXT_NAMETYPE_HOST_NAME,
                    name.as_ptr().cast_mut().cast(),
                ) != 1
            {
                bail!("setting the server name {host}: {}", library.errors());
            }
            if context.verify {
                let param = (library.SSL_get0_param)(ssl);
                (library.X509_VERIFY_PARAM_set_hostflags)(
                    param,
                    X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS,
                );
                let set = if ip {
                    (library.X509_VERIFY_PARAM_set1_ip_asc)(param, name.as_ptr())
                } else {
                    (library.SSL_set1_host)(ssl, name.as_ptr())
                };
                if set != 1 {
                    bail!("setting the name {host} to verify: {}", library.errors());
                }
            }
            Ok(tls)
        }
    }

    fn library(&self) -> &'static Library {
        &self.context.loaded.library
    }

    /// Runs `call` on the SSL with the task's context where the BIO finds it, and says what it
    /// came to: `call` returns OpenSSL's return code and, with 1, what it produced.
    fn with_context<T>(
        &mut self,
        cx: &mut TaskContext<'_>,
        call: impl FnOnce(*mut Ssl) -> (c_int, T),
    ) -> Outcome<T> {
        let library = self.library();
        // SAFETY: the state is this stream's; the context pointer is cleared before `cx` ends.
        unsafe {
            (*self.state).context = ptr::from_mut(cx).cast();
            (*self.state).error = None;
            (library.ERR_clear_error)();
        }
        let (code, value) = call(self.ssl);
        // SAFETY: as above; the SSL is valid while the stream lives.
        unsafe {
            (*self.state).context = ptr::null_mut();
            if code == 1 {
                return Outcome::Done(value);
            }
            let error = (library.SSL_get_error)(self.ssl, code);
            if let Some(error) = (*self.state).error.take() {
                return Outcome::Failed(error);
            }
            match error {
                SSL_ERROR_WANT_READ | SSL_ERROR_WANT_WRITE => Outcome::Waiting,
                SSL_ERROR_ZERO_RETURN => Outcome::Closed,
                // The TCP stream ended (nothing else fails in our BIO without an error kept):
                // an answer may be cut short, as rustls says too.
                SSL_ERROR_SYSCALL => Outcome::Failed(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the server closed the connection without a TLS close_notify",
                )),
                _ => {
                    let mut message = library.errors();
                    let verified = (library.SSL_get_verify_result)(self.ssl);
                    if verified != X509_V_OK {
                        let reason =
                            CStr::from_ptr((library.X509_verify_cert_error_string)(verified));
                        message = format!("{message} ({})", reason.to_string_lossy());
                    }
                    Outcome::Failed(io::Error::other(message))
                }
            }
        }
    }

    fn poll_handshake(&mut self, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let library = self.library();
        // SAFETY: the SSL is valid while the stream lives.
        match self.with_context(cx, |ssl| (unsafe { (library.SSL_connect)(ssl) }, ())) {
            Outcome::Done(()) => {
                let mut protocol: *const u8 = ptr::null();
                let mut length: c_uint = 0;
                // SAFETY: OpenSSL points at its own copy of the selected protocol, or at nothing.
                unsafe {
                    (library.SSL_get0_alpn_selected)(self.ssl, &mut protocol, &mut length);
                    self.h2 = !protocol.is_null()
                        && std::slice::from_raw_parts(protocol, length as usize) == b"h2";
                }
                Poll::Ready(Ok(()))
            }
            Outcome::Waiting => Poll::Pending,
            Outcome::Closed => Poll::Ready(Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the server ended the TLS session during the handshake",
            ))),
            Outcome::Failed(error) => Poll::Ready(Err(error)),
        }
    }
}

impl hyper::rt::Read for TlsStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let library = this.library();
        // SAFETY: OpenSSL writes at most the buffer's length, and says how much it wrote.
        let unfilled = unsafe { buf.as_mut() };
        if unfilled.is_empty() {
            return Poll::Ready(Ok(()));
        }
        let outcome = this.with_context(cx, |ssl| {
            let mut read = 0;
            let code = unsafe {
                (library.SSL_read_ex)(ssl, unfilled.as_mut_ptr().cast(), unfilled.len(), &mut read)
            };
            (code, read)
        });
        match outcome {
            Outcome::Done(read) => {
                // SAFETY: OpenSSL wrote `read` bytes.
                unsafe { buf.advance(read) };
                Poll::Ready(Ok(()))
            }
            Outcome::Waiting => Poll::Pending,
            Outcome::Closed => Poll::Ready(Ok(())),
            Outcome::Failed(error) => Poll::Ready(Err(error)),
        }
    }
}

impl hyper::rt::Write for TlsStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let library = this.library();
        if buf.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let outcome = this.with_context(cx, |ssl| {
            let mut written = 0;
            // SAFETY: OpenSSL reads at most the buffer's length.
            let code = unsafe {
                (library.SSL_write_ex)(ssl, buf.as_ptr().cast(), buf.len(), &mut written)
            };
            (code, written)
        });
        match outcome {
            Outcome::Done(written) => Poll::Ready(Ok(written)),
            Outcome::Waiting => Poll::Pending,
            Outcome::Closed => Poll::Ready(Err(io::ErrorKind::BrokenPipe.into())),
            Outcome::Failed(error) => Poll::Ready(Err(error)),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // SAFETY: the state is this stream's, and no OpenSSL call is running.
        Pin::new(unsafe { &mut *(*this.state).stream }).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let library = this.library();
        if !this.shutdown_sent {
            // SSL_shutdown returns 0 once our close_notify is sent, 1 once the peer's came too.
            let outcome =
                this.with_context(cx, |ssl| match unsafe { (library.SSL_shutdown)(ssl) } {
                    0 => (1, ()),
                    code => (code, ()),
                });
            match outcome {
                Outcome::Waiting => return Poll::Pending,
                Outcome::Failed(error) if error.kind() != io::ErrorKind::UnexpectedEof => {
                    return Poll::Ready(Err(error));
                }
                _ => this.shutdown_sent = true,
            }
        }
        // SAFETY: the state is this stream's, and no OpenSSL call is running.
        Pin::new(unsafe { &mut *(*this.state).stream }).poll_shutdown(cx)
    }
}

impl Connection for TlsStream {
    fn connected(&self) -> Connected {
        // SAFETY: the state is this stream's, and no OpenSSL call is running.
        let connected = unsafe { (*self.state).stream.connected() };
        if self.h2 {
            connected.negotiated_h2()
        } else {
            connected
        }
    }
}

/// Connects with `inner`, then shakes hands over its stream: the HTTPS connector of the
/// transport, as hyper-rustls's is for rustls.
#[derive(Clone)]
pub struct HttpsConnector<C> {
    inner: C,
    context: Arc<SslContext>,
}

impl<C> HttpsConnector<C> {
    /// Loads OpenSSL (once per process) and makes the context: `roots` as in `SslContext::new`.
    pub fn new(roots: Option<&[Vec<u8>]>, inner: C) -> anyhow::Result<Self> {
        Ok(HttpsConnector {
            inner,
            context: Arc::new(SslContext::new(roots)?),
        })
    }
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

impl<C> tower_service::Service<http::Uri> for HttpsConnector<C>
where
    C: tower_service::Service<http::Uri>,
    C::Response: Io + 'static,
    C::Future: Send + 'static,
    C::Error: Into<BoxError>,
{
    type Response = TlsStream;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, uri: http::Uri) -> Self::Future {
        let context = Arc::clone(&self.context);
        let host = uri.host().unwrap_or_default();
        // An IPv6 address is bracketed in a URL, and not in a certificate.
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host)
            .to_string();
        let https = uri.scheme() == Some(&http::uri::Scheme::HTTPS);
        let connecting = self.inner.call(uri);
        Box::pin(async move {
            if !https {
                return Err("the API server's URL is not https".into());
            }
            let stream = connecting.await.map_err(Into::into)?;
            let mut tls =
                TlsStream::new(context, Box::new(stream), &host).map_err(BoxError::from)?;
            std::future::poll_fn(|cx| tls.poll_handshake(cx)).await?;
            Ok(tls)
        })
    }
}
