//! A minimal ELF section-header reader (32- and 64-bit, little- and
//! big-endian): enough to get section names and sizes without `llvm-size`.

/// One section header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Section {
    /// The section name (`.text`, `.bss`, ...).
    pub name: String,
    /// `sh_type` (1 = `PROGBITS`, 8 = `NOBITS`, ...).
    pub kind: u32,
    /// `sh_flags`.
    pub flags: u64,
    /// `sh_addr`: the load address.
    pub addr: u64,
    /// `sh_size` in bytes.
    pub size: u64,
}

/// `SHF_ALLOC`: the section occupies memory at run time.
pub const SHF_ALLOC: u64 = 0x2;
/// `EM_ARM`.
pub const EM_ARM: u16 = 40;

/// The parts of the ELF header the tests care about, and the sections.
#[derive(Clone, Debug)]
pub struct Elf {
    /// True for ELFCLASS32.
    pub is_32: bool,
    /// `e_machine`.
    pub machine: u16,
    /// `e_entry`.
    pub entry: u64,
    /// The section headers, in file order (index 0, the null section, included).
    pub sections: Vec<Section>,
}

impl Elf {
    /// The size of the section called `name`, 0 if there is none.
    pub fn size_of(&self, name: &str) -> u64 {
        self.sections
            .iter()
            .filter(|s| s.name == name)
            .map(|s| s.size)
            .sum()
    }
}

struct Bytes<'a> {
    data: &'a [u8],
    le: bool,
}

impl Bytes<'_> {
    fn get<const N: usize>(&self, at: u64) -> Result<[u8; N], String> {
        let at = usize::try_from(at).map_err(|_| format!("offset {at} too large"))?;
        at.checked_add(N)
            .and_then(|end| self.data.get(at..end))
            .and_then(|s| <[u8; N]>::try_from(s).ok())
            .ok_or_else(|| format!("truncated ELF: {N} bytes at offset {at}"))
    }
    fn u16(&self, at: u64) -> Result<u16, String> {
        let b = self.get::<2>(at)?;
        Ok(if self.le {
            u16::from_le_bytes(b)
        } else {
            u16::from_be_bytes(b)
        })
    }
    fn u32(&self, at: u64) -> Result<u32, String> {
        let b = self.get::<4>(at)?;
        Ok(if self.le {
            u32::from_le_bytes(b)
        } else {
            u32::from_be_bytes(b)
        })
    }
    fn u64(&self, at: u64) -> Result<u64, String> {
        let b = self.get::<8>(at)?;
        Ok(if self.le {
            u64::from_le_bytes(b)
        } else {
            u64::from_be_bytes(b)
        })
    }
    /// A word: 4 bytes in ELF32, 8 in ELF64.
    fn word(&self, is_32: bool, at: u64) -> Result<u64, String> {
        if is_32 {
            self.u32(at).map(u64::from)
        } else {
            self.u64(at)
        }
    }
}

/// Parses the ELF header and section headers of `data`.
///
/// # Errors
/// A message if `data` is not an ELF file or is truncated.
pub fn parse(data: &[u8]) -> Result<Elf, String> {
    if data.get(..4) != Some(b"\x7fELF".as_slice()) {
        return Err("not an ELF file (bad magic)".into());
    }
    let is_32 = match data.get(4) {
        Some(1) => true,
        Some(2) => false,
        other => return Err(format!("bad EI_CLASS {other:?}")),
    };
    let le = match data.get(5) {
        Some(1) => true,
        Some(2) => false,
        other => return Err(format!("bad EI_DATA {other:?}")),
    };
    let b = Bytes { data, le };
    // Offsets of e_machine, e_entry, e_shoff, e_shentsize, e_shnum, e_shstrndx.
    let (entry_at, shoff_at, shentsize_at, shnum_at, shstrndx_at) = if is_32 {
        (0x18, 0x20, 0x2E, 0x30, 0x32)
    } else {
        (0x18, 0x28, 0x3A, 0x3C, 0x3E)
    };
    let machine = b.u16(0x12)?;
    let entry = b.word(is_32, entry_at)?;
    let shoff = b.word(is_32, shoff_at)?;
    let shentsize = u64::from(b.u16(shentsize_at)?);
    let shnum = u64::from(b.u16(shnum_at)?);
    let shstrndx = u64::from(b.u16(shstrndx_at)?);
    let min_entsize = if is_32 { 40 } else { 64 };
    if shnum > 0 && shentsize < min_entsize {
        return Err(format!("e_shentsize {shentsize} < {min_entsize}"));
    }

    // Raw headers: (name offset, type, flags, addr, offset, size).
    let mut raw = Vec::new();
    for i in 0..shnum {
        let h = shoff + i * shentsize;
        let name = b.u32(h)?;
        let kind = b.u32(h + 4)?;
        let (flags, addr, offset, size) = if is_32 {
            (
                u64::from(b.u32(h + 8)?),
                u64::from(b.u32(h + 12)?),
                u64::from(b.u32(h + 16)?),
                u64::from(b.u32(h + 20)?),
            )
        } else {
            (
                b.u64(h + 8)?,
                b.u64(h + 16)?,
                b.u64(h + 24)?,
                b.u64(h + 32)?,
            )
        };
        raw.push((name, kind, flags, addr, offset, size));
    }
    let strtab = raw
        .get(usize::try_from(shstrndx).map_err(|e| e.to_string())?)
        .map(|&(_, _, _, _, offset, size)| (offset, size));

    let mut sections = Vec::with_capacity(raw.len());
    for (name_at, kind, flags, addr, _, size) in raw {
        let name = match strtab {
            Some((off, len)) if u64::from(name_at) < len => {
                let start = usize::try_from(off + u64::from(name_at)).map_err(|e| e.to_string())?;
                let tail = data.get(start..).ok_or("section name outside the file")?;
                let end = tail.iter().position(|&c| c == 0).unwrap_or(tail.len());
                String::from_utf8_lossy(&tail[..end]).into_owned()
            }
            _ => String::new(),
        };
        sections.push(Section {
            name,
            kind,
            flags,
            addr,
            size,
        });
    }
    Ok(Elf {
        is_32,
        machine,
        entry,
        sections,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds a small ELF32 LE file with the given (name, type, flags, size)
    /// sections plus the null section and `.shstrtab`.
    fn elf32(sections: &[(&str, u32, u32, u32)]) -> Vec<u8> {
        let mut strtab = vec![0u8];
        let mut names = Vec::new();
        for (name, ..) in sections {
            names.push(u32::try_from(strtab.len()).unwrap());
            strtab.extend_from_slice(name.as_bytes());
            strtab.push(0);
        }
        let shstrtab_name = u32::try_from(strtab.len()).unwrap();
        strtab.extend_from_slice(b".shstrtab\0");

        let mut f = vec![0u8; 52];
        f[..4].copy_from_slice(b"\x7fELF");
        f[4] = 1; // ELFCLASS32
        f[5] = 1; // little-endian
        f[0x12..0x14].copy_from_slice(&EM_ARM.to_le_bytes());
        f[0x18..0x1C].copy_from_slice(&0x401u32.to_le_bytes());
        let strtab_off = u32::try_from(f.len()).unwrap();
        f.extend_from_slice(&strtab);
        let shoff = u32::try_from(f.len()).unwrap();
        let shnum = u16::try_from(sections.len() + 2).unwrap();
        f[0x20..0x24].copy_from_slice(&shoff.to_le_bytes());
        f[0x2E..0x30].copy_from_slice(&40u16.to_le_bytes());
        f[0x30..0x32].copy_from_slice(&shnum.to_le_bytes());
        f[0x32..0x34].copy_from_slice(&(shnum - 1).to_le_bytes());
        let header = |f: &mut Vec<u8>, name: u32, kind: u32, flags: u32, off: u32, size: u32| {
            for w in [name, kind, flags, 0, off, size, 0, 0, 1, 0] {
                f.extend_from_slice(&w.to_le_bytes());
            }
        };
        header(&mut f, 0, 0, 0, 0, 0);
        for (&(_, kind, flags, size), &name) in sections.iter().zip(&names) {
            header(&mut f, name, kind, flags, 0, size);
        }
        header(
            &mut f,
            shstrtab_name,
            3,
            0,
            strtab_off,
            u32::try_from(strtab.len()).unwrap(),
        );
        f
    }

    #[test]
    fn reads_names_and_sizes() {
        let data = elf32(&[
            (".vector_table", 1, 2, 1024),
            (".text", 1, 6, 4321),
            (".bss", 8, 3, 77),
        ]);
        let elf = parse(&data).unwrap();
        assert!(elf.is_32);
        assert_eq!(elf.machine, EM_ARM);
        assert_eq!(elf.entry, 0x401);
        assert_eq!(elf.size_of(".vector_table"), 1024);
        assert_eq!(elf.size_of(".text"), 4321);
        assert_eq!(elf.size_of(".bss"), 77);
        assert_eq!(elf.size_of(".data"), 0);
        let bss = elf.sections.iter().find(|s| s.name == ".bss").unwrap();
        assert_eq!((bss.kind, bss.flags & SHF_ALLOC), (8, SHF_ALLOC));
    }

    #[test]
    fn rejects_garbage_and_truncation() {
        assert!(parse(b"not an elf").is_err());
        let data = elf32(&[(".text", 1, 6, 1)]);
        assert!(parse(&data[..data.len() - 20]).is_err()); // cuts the last header's sh_size
        assert!(parse(&data[..20]).is_err());
    }

    #[test]
    #[cfg(all(target_os = "linux", target_pointer_width = "64"))]
    fn reads_this_test_binary() {
        // The host test executable is an ELF64 on Linux: a real-world input.
        let exe = std::env::current_exe().unwrap();
        let data = std::fs::read(exe).unwrap();
        let elf = parse(&data).unwrap();
        assert!(!elf.is_32);
        assert!(elf.size_of(".text") > 0);
    }
}
