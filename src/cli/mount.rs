//! `savepointfs mount SAVEPOINT MOUNTPOINT` and `savepointfs umount MOUNTPOINT`.
//!
//! Everything that can be checked is checked before anything is mounted: the savepoint's
//! outer index, the mount point (a directory, not already a mount, not a dead one), the
//! options, the log file. Without `-f` the process then forks (before any thread
//! exists); the child mounts and serves, and the parent exits 0 only after it has seen
//! the mount answer `statfs` and `stat` of its root itself — never earlier. Any failure
//! comes back through a pipe as one line and a non-zero status.
//!
//! SIGINT, SIGTERM and SIGHUP unmount (lazily if the mount is busy: it leaves the mount
//! table at once and the daemon serves open files until the last is closed); a second
//! signal exits at once. A daemon killed with SIGKILL leaves a dead mount, which
//! `savepointfs umount` removes.

use super::status::{mount_entry, probe};
use super::tree_args::{TreeArgs, file_uri};
use super::{CliResult, Failure};
use savepointfs::fuse::{Owner, SavepointFs};
use std::ffi::CString;
use std::fs::File;
use std::io::{BufRead, Write};
use std::os::fd::{AsRawFd, FromRawFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(clap::Args)]
pub struct MountArgs {
    #[command(flatten)]
    pub tree: TreeArgs,
    /// An existing, empty directory to mount on.
    pub mountpoint: PathBuf,
    /// Stay in the foreground and log to stderr (default: become a daemon once mounted).
    #[arg(short = 'f', long)]
    pub foreground: bool,
    /// Threads serving FUSE requests (more help parallel readers). With more than one, a
    /// further thread decodes the next subtasks while a traversal lists one.
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub threads: u16,
    /// URI prefix `_metadata` names files under (default: file:<absolute mount point>).
    #[arg(long, value_name = "URI")]
    pub metadata_root: Option<String>,
    /// The daemon's log file (appended to; default: none). Level: RUST_LOG (default warn).
    #[arg(long, value_name = "FILE")]
    pub log: Option<PathBuf>,
    /// Mount options: allow_other, allow_root, default_permissions, auto_unmount,
    /// fsname=NAME, subtype=NAME, ro, noatime, noexec, nosuid, nodev, noxattr (no
    /// user.savepointfs.* attributes: faster `ls -l`, which asks three per entry), and
    /// nonempty (mount over a directory that has files, hiding them).
    #[arg(short = 'o', value_name = "OPT[,OPT...]", value_delimiter = ',')]
    pub options: Vec<String>,
    /// Serve every file through the daemon. By default a file that is one whole file on
    /// disk (an external state file served unchanged) is passed through to the kernel
    /// (FUSE passthrough, Linux >= 6.9, as root), which then reads it at native speed;
    /// where the kernel or privileges refuse, the daemon serves it anyway.
    #[arg(long)]
    pub no_passthrough: bool,
    /// With -o allow_other: acknowledge that every user may read what the mount serves
    /// (it then needs an explicit --allow-root, adds default_permissions and serves
    /// every file with the savepoint file's owner and read bits).
    #[arg(long)]
    pub shared_with_all_users: bool,
}

#[derive(clap::Args)]
pub struct UmountArgs {
    /// The mount point of a savepointfs (or any FUSE) mount, live or dead.
    pub mountpoint: PathBuf,
    /// Detach even if busy: the mount leaves the mount table now and goes away when its
    /// last open file is closed.
    #[arg(short = 'z', long)]
    pub lazy: bool,
}

/// How long the parent waits for the daemon's mount to answer.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

pub fn run(mut args: MountArgs) -> CliResult {
    let nonempty = args.options.iter().any(|o| o.trim() == "nonempty");
    let mountpoint = check_mountpoint(&args.mountpoint, nonempty)?;
    // The daemon works from `/`: a relative --map directory must not change meaning.
    for (_, dir) in &mut args.tree.maps {
        *dir = std::path::absolute(&*dir)
            .map_err(|e| Failure::other(format!("--map {}: {e}", dir.display())))?;
    }
    let config = fuse_config(&args, &mountpoint)?;
    let metadata_root = match &args.metadata_root {
        Some(uri) => uri.clone(),
        None => file_uri(&mountpoint)?,
    };
    let tree = args
        .tree
        .open(metadata_root, args.metadata_root.is_none())?;
    tree.preflight().map_err(|e| {
        Failure::input(format!(
            "{}: the mount could not serve this target: {e}",
            args.tree.savepoint.display()
        ))
    })?;
    let meta = std::fs::metadata(&args.tree.savepoint)
        .map_err(|e| Failure::input(format!("{}: {e}", args.tree.savepoint.display())))?;
    let owner = if config.acl == fuser::SessionACL::All {
        // Shared with every user: as the savepoint file itself is, no more.
        use std::os::unix::fs::MetadataExt;
        Owner {
            uid: meta.uid(),
            gid: meta.gid(),
            time: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            bytes: meta.len(),
            file_mode: (meta.mode() & 0o444) as u16,
        }
    } else {
        Owner {
            // SAFETY: getuid/getgid cannot fail.
            uid: unsafe { libc::getuid() },
            gid: unsafe { libc::getgid() },
            time: meta.modified().unwrap_or(std::time::UNIX_EPOCH),
            bytes: meta.len(),
            file_mode: 0o444,
        }
    };
    let mut fs = SavepointFs::new(Arc::new(tree), owner);
    if args.options.iter().any(|o| o.trim() == "noxattr") {
        fs = fs.without_xattrs();
    }
    if args.no_passthrough {
        fs = fs.without_passthrough();
    }
    if args.threads > 1 {
        fs = fs.with_decode_ahead();
    }
    if args.foreground {
        return serve(fs, &mountpoint, &config, &mut None);
    }
    let log = match &args.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| Failure::other(format!("log file {}: {e}", p.display())))?,
        ),
        None => None,
    };
    daemonize(fs, &mountpoint, &config, log)
}

pub fn run_umount(args: UmountArgs) -> CliResult {
    let path = absolute_unresolved(&args.mountpoint)?;
    match mount_entry(&path) {
        None => Err(Failure::other(format!("{}: not mounted", path.display()))),
        Some(fstype) if !fstype.starts_with("fuse") => Err(Failure::other(format!(
            "{}: a {fstype} mount, not FUSE; not touching it",
            path.display()
        ))),
        Some(_) => unmount(&path, args.lazy).map_err(Failure::other),
    }
}

/// The mount point, canonical, if it can be mounted on: an existing directory that is
/// not already a mount and is empty (unless `-o nonempty`: the mount hides its files).
fn check_mountpoint(path: &Path, nonempty: bool) -> Result<PathBuf, Failure> {
    let shown = path.display();
    let abs = absolute_unresolved(path)?;
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) if e.raw_os_error() == Some(libc::ENOTCONN) => {
            return Err(Failure::other(format!(
                "{shown}: a dead FUSE mount ({e}); remove it with `savepointfs umount {shown}`"
            )));
        }
        Err(e) => return Err(Failure::other(format!("mount point {shown}: {e}"))),
    };
    if !meta.is_dir() {
        return Err(Failure::other(format!(
            "mount point {shown}: not a directory"
        )));
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| Failure::other(format!("mount point {shown}: {e}")))?;
    let has_entries = std::fs::read_dir(&canonical)
        .map(|mut d| d.next().is_some())
        .unwrap_or(false);
    if has_entries && !nonempty && mount_entry(&canonical).is_none() && mount_entry(&abs).is_none()
    {
        return Err(Failure::other(format!(
            "mount point {shown}: not empty (its files would be hidden while mounted); use an empty directory, or -o nonempty"
        )));
    }
    for p in [&canonical, &abs] {
        if let Some(fstype) = mount_entry(p) {
            // The kernel answers `stat` of a dead FUSE mount from its cache; statfs asks.
            let dead = probe(p).is_err_and(|e| e.contains("not connected"));
            let state = if dead { "a dead" } else { "already a" };
            return Err(Failure::other(format!(
                "mount point {shown}: busy ({state} {fstype} mount; `savepointfs umount {shown}` \
                 removes it)"
            )));
        }
    }
    Ok(canonical)
}

/// `-o` options as fuser's configuration. `ro` is always on.
fn fuse_config(args: &MountArgs, mountpoint: &Path) -> Result<fuser::Config, Failure> {
    use fuser::{MountOption as M, SessionACL};
    let mut opts = vec![M::RO, M::Subtype("savepointfs".into())];
    let mut acl = SessionACL::Owner;
    let mut fsname = None;
    for o in args
        .options
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
    {
        match o {
            "ro" | "noxattr" | "nonempty" => {}
            "allow_other" => acl = SessionACL::All,
            "allow_root" => acl = SessionACL::RootAndOwner,
            "default_permissions" => opts.push(M::DefaultPermissions),
            "auto_unmount" => opts.push(M::AutoUnmount),
            "noatime" => opts.push(M::NoAtime),
            "noexec" => opts.push(M::NoExec),
            "nosuid" => opts.push(M::NoSuid),
            "nodev" => opts.push(M::NoDev),
            "rw" => return Err(Failure::other("-o rw: savepointfs is read-only")),
            _ if o.starts_with("fsname=") => fsname = Some(o["fsname=".len()..].to_string()),
            _ if o.starts_with("subtype=") => {
                opts.retain(|x| !matches!(x, M::Subtype(_)));
                opts.push(M::Subtype(o["subtype=".len()..].to_string()));
            }
            _ => {
                return Err(Failure::other(format!(
                    "-o {o}: unknown mount option (supported: allow_other, allow_root, \
                     default_permissions, auto_unmount, fsname=, subtype=, ro, noatime, \
                     noexec, nosuid, nodev, noxattr)"
                )));
            }
        }
    }
    if acl == SessionACL::All {
        // Every user could read, through this mount, whatever the allowed roots hold
        // (external state files included): the user names them and says so.
        if args.tree.allow_roots.is_empty() || !args.shared_with_all_users {
            return Err(Failure::other(
                "-o allow_other shares the savepoint, and every external state file under \
                 the allowed roots, with every user of this machine: name those roots with \
                 --allow-root DIR and pass --shared-with-all-users to acknowledge it",
            ));
        }
        if !opts.contains(&M::DefaultPermissions) {
            opts.push(M::DefaultPermissions);
        }
    }
    if opts.contains(&M::AutoUnmount) && acl == SessionACL::Owner {
        return Err(Failure::other(
            "-o auto_unmount needs allow_other or allow_root as well (a fusermount3 rule)",
        ));
    }
    // The savepoint's path names the mount in the mount table, unless it would break
    // the option string fusermount3 parses.
    let fsname = fsname.unwrap_or_else(|| {
        let p = std::path::absolute(&args.tree.savepoint)
            .unwrap_or_else(|_| args.tree.savepoint.clone())
            .display()
            .to_string();
        if p.contains([',', ' ', '\t', '\n', '\\']) {
            "savepointfs".into()
        } else {
            p
        }
    });
    opts.push(M::FSName(fsname));
    log::debug!("mounting on {} with {opts:?}", mountpoint.display());
    let mut config = fuser::Config::default();
    config.mount_options = opts;
    config.acl = acl;
    config.n_threads = Some(args.threads as usize);
    config.clone_fd = args.threads > 1;
    Ok(config)
}

/// Mounts, tells `ready` (the daemon's pipe) once mounted, serves until unmounted.
fn serve(
    fs: SavepointFs,
    mountpoint: &Path,
    config: &fuser::Config,
    ready: &mut Option<File>,
) -> CliResult {
    // Signals go to one thread that unmounts; every later thread inherits the mask.
    let signals = block_signals();
    let session = fuser::Session::new(fs, mountpoint, config).map_err(|e| {
        let hint = if !Path::new("/dev/fuse").exists() {
            " (no /dev/fuse: is the fuse module loaded?)".to_string()
        } else if e.kind() == std::io::ErrorKind::PermissionDenied {
            permission_hint(mountpoint)
        } else {
            String::new()
        };
        Failure::other(format!(
            "cannot mount on {}: {e}{hint}",
            mountpoint.display()
        ))
    })?;
    log::info!("mounted on {}", mountpoint.display());
    if let Some(mut pipe) = ready.take() {
        let _ = pipe.write_all(b"OK\n");
    }
    let mp = mountpoint.to_path_buf();
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || on_signals(signals, &mp))
        .map_err(|e| Failure::other(format!("cannot start the signal thread: {e}")))?;
    let session = session
        .spawn()
        .map_err(|e| Failure::other(format!("cannot start serving: {e}")))?;
    // The session ends when the kernel drops the connection, i.e. once the mount is gone.
    // fuser would then unmount the mount point by path again, which at best fails with
    // a warning and at worst removes a new mount made there since: so its mount guard is
    // never dropped (the process exits right after).
    // SAFETY: the handle is moved out bitwise and the original forgotten, never dropped.
    let guard = unsafe { std::ptr::read(&session.guard) };
    std::mem::forget(session);
    let ended = guard
        .join()
        .map_err(|_| Failure::other("the FUSE session thread panicked"))?;
    ended.map_err(|e| Failure::other(format!("{}: session ended: {e}", mountpoint.display())))?;
    log::info!("unmounted {}", mountpoint.display());
    Ok(())
}

/// What a user who is not root can do about a refused mount.
fn permission_hint(mountpoint: &Path) -> String {
    let can = |p: &Path, mode| {
        CString::new(p.as_os_str().as_bytes())
            // SAFETY: a valid C string.
            .is_ok_and(|c| unsafe { libc::access(c.as_ptr(), mode) } == 0)
    };
    // SAFETY: geteuid cannot fail.
    let uid = unsafe { libc::geteuid() };
    if uid == 0 {
        return String::new();
    }
    if !can(Path::new("/dev/fuse"), libc::R_OK | libc::W_OK) {
        let mode = std::fs::metadata("/dev/fuse")
            .map(|m| {
                format!(
                    "{:o}",
                    std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777
                )
            })
            .unwrap_or_default();
        return format!(
            " (/dev/fuse, mode {mode}, is not readable and writable by uid {uid}: run as \
             root, or have /dev/fuse opened to users (mode 0666, as the fuse3 package \
             sets it, or a group such as `fuse` that you are in))"
        );
    }
    if !can(mountpoint, libc::W_OK) {
        return format!(" (uid {uid} may not write to the mount point: use a directory you own)");
    }
    let on_path = std::env::var_os("PATH").is_some_and(|paths| {
        std::env::split_paths(&paths).any(|d| can(&d.join("fusermount3"), libc::X_OK))
    });
    if !on_path {
        return " (fusermount3, which mounts for users who are not root, is missing: install \
                 fuse3, or run as root)"
            .to_string();
    }
    String::new()
}

fn block_signals() -> libc::sigset_t {
    // SAFETY: plain libc signal-set calls on a local set.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for s in [libc::SIGINT, libc::SIGTERM, libc::SIGHUP] {
            libc::sigaddset(&mut set, s);
        }
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
        set
    }
}

/// First signal: unmount (lazily if busy); the session then ends by itself. Second: exit.
fn on_signals(set: libc::sigset_t, mountpoint: &Path) {
    let mut seen = 0;
    loop {
        let mut sig = 0;
        // SAFETY: `set` is a valid signal set; `sig` a valid out-pointer.
        if unsafe { libc::sigwait(&set, &mut sig) } != 0 {
            continue;
        }
        seen += 1;
        if seen > 1 {
            log::warn!("signal {sig} again: exiting without waiting for open files");
            std::process::exit(128 + sig);
        }
        log::info!("signal {sig}: unmounting {}", mountpoint.display());
        if let Err(e) = unmount(mountpoint, false) {
            log::warn!("{e}; detaching lazily");
            if let Err(e) = unmount(mountpoint, true) {
                log::error!("{e}");
            }
        }
    }
}

/// Forks; the child mounts and serves, the parent reports the truth about it.
fn daemonize(
    fs: SavepointFs,
    mountpoint: &Path,
    config: &fuser::Config,
    log: Option<File>,
) -> CliResult {
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(Failure::other(format!(
            "pipe: {}",
            std::io::Error::last_os_error()
        )));
    }
    // SAFETY: both descriptors were just created and are owned here only.
    let (rx, tx) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    // SAFETY: no thread has been started yet, so the child is a faithful copy.
    match unsafe { libc::fork() } {
        -1 => Err(Failure::other(format!(
            "fork: {}",
            std::io::Error::last_os_error()
        ))),
        0 => {
            drop(rx);
            detach_stdio(log);
            let mut ready = Some(tx);
            let code = match serve(fs, mountpoint, config, &mut ready) {
                Ok(()) => 0,
                Err(f) => {
                    // Before "OK" the parent shows this; after, only the log does.
                    if let Some(mut tx) = ready {
                        let _ = writeln!(tx, "ERR {} {}", f.code, f.message);
                    }
                    log::error!("{}", f.message);
                    f.code
                }
            };
            std::process::exit(code)
        }
        child => {
            drop(tx);
            // The first line the child says, or "" if it exits (or hangs) first.
            let (line_tx, line_rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let mut line = String::new();
                let _ = std::io::BufReader::new(rx).read_line(&mut line);
                let _ = line_tx.send(line);
            });
            let said = line_rx.recv_timeout(READY_TIMEOUT).ok();
            parent_verdict(child, mountpoint, said.as_deref().map(str::trim_end))
        }
    }
}

/// The daemon leaves the terminal: new session, `/` as working directory, stdio on
/// /dev/null except stderr, which goes to the log file when one was given.
fn detach_stdio(log: Option<File>) {
    // SAFETY: setsid/chdir/dup2 on descriptors we own; 0-2 stay open (fuser needs
    // /dev/fuse above them).
    unsafe {
        libc::setsid();
        let _ = std::env::set_current_dir("/");
        if let Ok(null) = File::options().read(true).write(true).open("/dev/null") {
            libc::dup2(null.as_raw_fd(), 0);
            libc::dup2(null.as_raw_fd(), 1);
            let err = log.as_ref().map_or(null.as_raw_fd(), |l| l.as_raw_fd());
            libc::dup2(err, 2);
        }
    }
}

/// `said`: the child's first line ("" if it exited silently), `None` if it said
/// nothing in time.
fn parent_verdict(child: libc::pid_t, mountpoint: &Path, said: Option<&str>) -> CliResult {
    let Some(said) = said else {
        // SAFETY: stopping our own child.
        unsafe { libc::kill(child, libc::SIGKILL) };
        let _ = unmount(mountpoint, true);
        return Err(Failure::other(format!(
            "the daemon did not mount {} within {READY_TIMEOUT:?}; stopped it",
            mountpoint.display()
        )));
    };
    if said == "OK" {
        return match answering(mountpoint) {
            Ok(()) => Ok(()),
            Err(why) => {
                // A daemon that mounted but does not answer is of no use: stop it.
                // SAFETY: signalling our own child.
                unsafe { libc::kill(child, libc::SIGKILL) };
                let _ = unmount(mountpoint, true);
                Err(Failure::other(format!(
                    "{}: mounted but not answering: {why}",
                    mountpoint.display()
                )))
            }
        };
    }
    if let Some(rest) = said.strip_prefix("ERR ") {
        let (code, message) = rest.split_once(' ').unwrap_or(("1", rest));
        return Err(Failure {
            message: message.to_string(),
            code: code.parse().unwrap_or(1),
        });
    }
    let mut status = 0;
    // SAFETY: waiting for our own child, which has closed its end of the pipe.
    unsafe { libc::waitpid(child, &mut status, 0) };
    Err(Failure::other(format!(
        "the daemon exited before mounting {} (wait status {status})",
        mountpoint.display()
    )))
}

/// Waits (bounded) until `statfs` and `stat` of the mount root are answered by FUSE.
fn answering(mountpoint: &Path) -> Result<(), String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let path = mountpoint.to_path_buf();
    std::thread::spawn(move || {
        let _ = tx.send(probe(&path));
    });
    rx.recv_timeout(READY_TIMEOUT)
        .unwrap_or_else(|_| Err(format!("no answer within {READY_TIMEOUT:?}")))
}

/// An absolute path without resolving its last component (which may be a dead mount).
pub(super) fn absolute_unresolved(path: &Path) -> Result<PathBuf, Failure> {
    let abs = std::path::absolute(path)
        .map_err(|e| Failure::other(format!("{}: {e}", path.display())))?;
    Ok(match (abs.parent(), abs.file_name()) {
        (Some(parent), Some(name)) => parent
            .canonicalize()
            .map(|p| p.join(name))
            .unwrap_or(abs.clone()),
        _ => abs,
    })
}

/// Unmounts with `fusermount3 -u` (`-z` when lazy), or for root with umount2(2).
pub fn unmount(path: &Path, lazy: bool) -> Result<(), String> {
    let mut why = Vec::new();
    let mut cmd = std::process::Command::new("fusermount3");
    cmd.arg("-u").arg("-q");
    if lazy {
        cmd.arg("-z");
    }
    match cmd.arg("--").arg(path).output() {
        Ok(out) if out.status.success() => return Ok(()),
        Ok(out) => why.push(format!(
            "fusermount3: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )),
        Err(e) => why.push(format!("fusermount3: {e}")),
    }
    // SAFETY: geteuid cannot fail.
    if unsafe { libc::geteuid() } == 0 {
        let c = CString::new(path.as_os_str().as_bytes()).map_err(|e| e.to_string())?;
        let flags = if lazy { libc::MNT_DETACH } else { 0 };
        // SAFETY: `c` is a valid C string.
        if unsafe { libc::umount2(c.as_ptr(), flags) } == 0 {
            return Ok(());
        }
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EBUSY) {
            return Err(format!(
                "{}: busy (open files or a working directory inside); `savepointfs umount -z` \
                 detaches it now and it goes away once the last file is closed",
                path.display()
            ));
        }
        why.push(format!("umount: {e}"));
    }
    Err(format!(
        "cannot unmount {}: {}",
        path.display(),
        why.join("; ")
    ))
}
