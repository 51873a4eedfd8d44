//! Argon2's working memory for one hashing thread: allocated once, reused for
//! every hash, and on Linux backed by transparent huge pages.
//!
//! Argon2id at OWASP cost reads and writes 19 MiB in a data-dependent order. In
//! 4 KiB pages that is 4,864 pages, more than a core's TLB maps, so most block
//! accesses walk the page tables, and two hashing threads then compete for the
//! memory those walks read. In 2 MiB pages it is ten: docs/performance.md has
//! what that saves two hashing workers, and the measurement.
//!
//! Kernels set to `madvise` (`/sys/kernel/mm/transparent_hugepage/enabled`,
//! Debian's default) give huge pages only to memory that asks for them. So on
//! Linux the region is a mapping of its own, aligned to 2 MiB, advised
//! `MADV_HUGEPAGE` before it is first touched. Where the mapping fails, and off
//! Linux, it is a plain `Vec`; either way the hashes are the same.

use argon2::Block;

/// One hashing thread's argon2 memory (see the module's comment).
///
/// Invariant: when `mapped` is `Some`, it holds more blocks than `fallback`.
/// The fallback grows only while nothing is mapped (a mapping failed), and a
/// new mapping is made only for a count the fallback cannot hold. So once
/// [`HashMemory::blocks`] has remapped where neither region was large enough,
/// a `Some` mapping always holds the count asked.
#[derive(Default)]
pub struct HashMemory {
    #[cfg(target_os = "linux")]
    mapped: Option<linux::Mapped>,
    fallback: Vec<Block>,
}

impl HashMemory {
    /// Memory that grows on first use.
    pub fn new() -> Self {
        Self::default()
    }

    /// `count` blocks, for one hash. Their content is whatever the last hash
    /// left (argon2 writes every block before it reads it).
    pub fn blocks(&mut self, count: usize) -> &mut [Block] {
        #[cfg(target_os = "linux")]
        {
            // Mapped again only when neither region holds `count` blocks: once a
            // mapping failed, the fallback grows instead of mapping per hash.
            if self.mapped.as_ref().is_none_or(|m| m.count() < count) && self.fallback.len() < count
            {
                self.mapped = None; // unmapped before the larger one is mapped
                self.mapped = linux::Mapped::new(count);
            }
            if let Some(mapped) = &mut self.mapped {
                return mapped.blocks(count);
            }
        }
        if self.fallback.len() < count {
            self.fallback.resize(count, Block::default());
        }
        &mut self.fallback[..count]
    }
}

// The one place in Roster with unsafe code (the workspace denies it elsewhere):
// mapping, advising and unmapping memory, and viewing it as blocks.
#[cfg(target_os = "linux")]
#[expect(
    unsafe_code,
    reason = "mmap, madvise and munmap, and a slice over the mapping"
)]
mod linux {
    use argon2::Block;

    const HUGE_PAGE: usize = 2 << 20;

    /// An anonymous private mapping holding `count` blocks from a 2 MiB boundary.
    pub(super) struct Mapped {
        base: *mut libc::c_void,
        len: usize,
        start: *mut Block,
        /// How many blocks fit from `start`: the bound of every slice handed out.
        count: usize,
    }

    // SAFETY: the mapping belongs to this value alone; moving it to another
    // thread moves that ownership, and no other pointer to it exists.
    unsafe impl Send for Mapped {}

    impl Mapped {
        pub(super) fn new(count: usize) -> Option<Self> {
            // Whole huge pages, so that the last one is not left in 4 KiB pages.
            let bytes = count
                .checked_mul(std::mem::size_of::<Block>())?
                .checked_next_multiple_of(HUGE_PAGE)?;
            let len = bytes.checked_add(HUGE_PAGE)?;
            // SAFETY: a new anonymous private mapping at an address the kernel
            // chooses; nothing else is touched, and the result is checked.
            let base = unsafe {
                libc::mmap(
                    std::ptr::null_mut(),
                    len,
                    libc::PROT_READ | libc::PROT_WRITE,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
                    -1,
                    0,
                )
            };
            if base == libc::MAP_FAILED {
                return None;
            }
            let offset = (base as usize).next_multiple_of(HUGE_PAGE) - base as usize;
            // SAFETY: offset < HUGE_PAGE, so `start .. start + bytes` lies inside
            // the `len = bytes + HUGE_PAGE` bytes mapped at `base`.
            let start = unsafe { base.cast::<u8>().add(offset) };
            // Advice only: if the kernel declines, the pages are 4 KiB ones.
            // SAFETY: the range is inside the mapping and page-aligned.
            unsafe { libc::madvise(start.cast(), bytes, libc::MADV_HUGEPAGE) };
            Some(Self {
                base,
                len,
                start: start.cast(),
                count: bytes / std::mem::size_of::<Block>(),
            })
        }

        pub(super) fn count(&self) -> usize {
            self.count
        }

        pub(super) fn blocks(&mut self, count: usize) -> &mut [Block] {
            // `HashMemory`'s invariant: it asks only for what the mapping holds.
            assert!(
                count <= self.count,
                "{count} blocks asked of a mapping of {}",
                self.count
            );
            // SAFETY: the kernel fills a new anonymous mapping with zeros, and
            // zero bytes are a valid `Block` (a `[u64; 128]`); `start` is 2 MiB
            // aligned (a `Block` needs 64); `count <= self.count` blocks lie
            // inside the mapping (asserted above); the slice borrows `self`
            // mutably, so it is the only reference while it lives.
            unsafe { std::slice::from_raw_parts_mut(self.start, count) }
        }

        #[cfg(test)]
        pub(super) fn start(&self) -> usize {
            self.start as usize
        }
    }

    impl Drop for Mapped {
        fn drop(&mut self) {
            // SAFETY: `base` and `len` are exactly what `mmap` returned and was
            // given, and no slice of the mapping outlives `self`.
            unsafe { libc::munmap(self.base, self.len) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::HashMemory;

    #[test]
    fn the_memory_grows_to_the_largest_cost_asked() {
        let mut memory = HashMemory::new();
        assert_eq!(memory.blocks(8).len(), 8);
        memory.blocks(8)[7] = argon2::Block::default();
        let grown = memory.blocks(19_456);
        assert_eq!(grown.len(), 19_456);
        grown[19_455] = argon2::Block::default();
        assert_eq!(
            memory.blocks(64).len(),
            64,
            "a smaller cost reuses the region"
        );
    }

    /// The region is 2 MiB-aligned and advised for huge pages: the kernel marks
    /// its mapping eligible (`THPeligible: 1` in smaps) unless huge pages are off.
    #[cfg(target_os = "linux")]
    #[test]
    fn on_linux_the_memory_asks_for_huge_pages() {
        let mut memory = HashMemory::new();
        memory.blocks(19_456)[0] = argon2::Block::default();
        let start = memory.mapped.as_ref().expect("a mapping").start();
        assert_eq!(start % (2 << 20), 0, "2 MiB-aligned");

        let mode = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/enabled")
            .unwrap_or_default();
        let size = std::fs::read_to_string("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size")
            .unwrap_or_default();
        if mode.is_empty() || mode.contains("[never]") || size.trim() != "2097152" {
            return; // no transparent huge pages here, or not 2 MiB ones
        }
        let smaps = std::fs::read_to_string("/proc/self/smaps").expect("smaps");
        let mut eligible = None;
        let mut inside = false;
        for line in smaps.lines() {
            let range = line.split_whitespace().next().unwrap_or("");
            if let Some((from, to)) = range.split_once('-')
                && let (Ok(from), Ok(to)) = (
                    usize::from_str_radix(from, 16),
                    usize::from_str_radix(to, 16),
                )
            {
                inside = from <= start && start < to;
                continue;
            }
            if inside && let Some(flag) = line.strip_prefix("THPeligible:") {
                eligible = Some(flag.trim().to_owned());
            }
        }
        if eligible.is_none() && !smaps.contains("THPeligible:") {
            return; // a kernel (or sandbox) that does not report it
        }
        assert_eq!(eligible.as_deref(), Some("1"), "mode {mode}");
    }
}
