//! The byte pattern of the test module that `cargo xtask test` loads next to the kernel.
//!
//! The kernel checks every byte after it has allocated and written every free frame: if the
//! allocator ever handed out a module page, the check fails.

/// GRUB module name of the test blob.
pub const MODULE_NAME: &str = "lux9-test-blob";
/// Its length: a little over 1 MiB, ending mid-page on purpose.
pub const MODULE_LEN: usize = (1 << 20) + 777;

/// Byte `index` of the test blob (a mixing function, so shifted copies do not match).
pub const fn byte(index: u64) -> u8 {
    let mut x = index.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (x ^ (x >> 31)) as u8
}

#[cfg(test)]
mod tests {
    #[test]
    fn pattern_is_not_periodic_at_page_size() {
        let differing = (0..4096u64)
            .filter(|&i| super::byte(i) != super::byte(i + 4096))
            .count();
        assert!(differing > 4000, "{differing}");
    }
}
