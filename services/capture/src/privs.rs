//! Capturing as the user who owns `captures/`: the sidecar starts as root (tcpdump needs NET_RAW),
//! then switches to that folder's owner and keeps only NET_RAW and NET_ADMIN, as ambient
//! capabilities that tcpdump inherits. The pcap is then the user's from its first byte, and the
//! container needs no CHOWN or DAC_OVERRIDE to write into the user's tree.

use anyhow::ensure;

const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
/// _LINUX_CAPABILITY_VERSION_3: two 32-bit words per set.
const CAP_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: i32,
}

#[repr(C)]
#[derive(Default, Clone, Copy)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

/// Switches this process to `uid:gid` keeping NET_RAW and NET_ADMIN for the children it starts.
/// Does nothing for uid 0 (a root-owned captures folder).
pub fn become_owner(uid: u32, gid: u32) -> anyhow::Result<()> {
    if uid == 0 {
        return Ok(());
    }
    let check = |rc: i64, what: &str| -> anyhow::Result<()> {
        ensure!(rc == 0, "{what}: {}", std::io::Error::last_os_error());
        Ok(())
    };
    // SAFETY: plain system calls on this process; the pointers are to live local values.
    unsafe {
        check(
            libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) as i64,
            "keeping capabilities across setuid",
        )?;
        check(
            libc::setgroups(0, std::ptr::null()) as i64,
            "dropping supplementary groups (needs CAP_SETGID)",
        )?;
        check(
            libc::setgid(gid) as i64,
            &format!("switching to gid {gid} (needs CAP_SETGID)"),
        )?;
        check(
            libc::setuid(uid) as i64,
            &format!("switching to uid {uid} (needs CAP_SETUID)"),
        )?;
        // Ambient capabilities must be both permitted (kept by KEEPCAPS) and inheritable.
        let mut header = CapHeader {
            version: CAP_VERSION_3,
            pid: 0,
        };
        let mut data = [CapData::default(); 2];
        check(
            libc::syscall(libc::SYS_capget, &mut header, data.as_mut_ptr()),
            "reading capabilities",
        )?;
        let wanted = (1 << CAP_NET_RAW) | (1 << CAP_NET_ADMIN);
        ensure!(
            data[0].permitted & wanted == wanted,
            "the container lacks NET_RAW or NET_ADMIN (cap_add them)"
        );
        data[0].inheritable |= wanted;
        check(
            libc::syscall(libc::SYS_capset, &mut header, data.as_ptr()),
            "making NET_RAW and NET_ADMIN inheritable",
        )?;
        for cap in [CAP_NET_RAW, CAP_NET_ADMIN] {
            let rc = libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_RAISE,
                cap as libc::c_ulong,
                0,
                0,
            );
            check(rc as i64, &format!("raising ambient capability {cap}"))?;
        }
    }
    log::info!("capturing as uid {uid} gid {gid}, the owner of the captures folder");
    Ok(())
}
