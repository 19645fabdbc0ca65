//! Finding the `\_S5_` sleep type in the DSDT's AML, for ACPI soft-off.
//!
//! Powering off means writing `SLP_TYPa | SLP_EN` to PM1a_CNT, and `SLP_TYPa` is only given by
//! the DSDT's `_S5_` package. A full AML interpreter is not needed for it: the object is
//! always a `Name(_S5_, Package() {a, b, ...})` at a fixed shape, found by scanning for the
//! name (the method Linux's early code and many small kernels use).

/// AML opcodes used by `Name(_S5_, Package(){...})`.
const NAME_OP: u8 = 0x08;
const PACKAGE_OP: u8 = 0x12;
const ZERO_OP: u8 = 0x00;
const ONE_OP: u8 = 0x01;
const BYTE_PREFIX: u8 = 0x0a;

/// The `_S5_` sleep types (SLP_TYPa, SLP_TYPb), if the AML defines them in the usual shape.
pub fn find_s5(aml: &[u8]) -> Option<(u8, u8)> {
    let mut from = 0;
    while let Some(found) = aml[from..].windows(4).position(|w| w == b"_S5_") {
        let at = from + found;
        from = at + 1;
        // Preceded by NameOp (optionally with a root prefix `\`).
        let named = match at.checked_sub(1).map(|i| aml[i]) {
            Some(NAME_OP) => true,
            Some(b'\\') => at >= 2 && aml[at - 2] == NAME_OP,
            _ => false,
        };
        if !named {
            continue;
        }
        let mut rest = aml.get(at + 4..)?;
        if rest.first() != Some(&PACKAGE_OP) {
            continue;
        }
        // PkgLength: bits 6-7 of the lead byte say how many bytes follow it.
        let lead = *rest.get(1)?;
        let follow = usize::from(lead >> 6);
        rest = rest.get(2 + follow..)?;
        // NumElements, then the elements.
        rest = rest.get(1..)?;
        let (a, rest) = element(rest)?;
        let b = element(rest).map_or(0, |(b, _)| b);
        return Some((a, b));
    }
    None
}

/// Decodes one small integer element: Zero, One, or a BytePrefix'ed byte.
fn element(aml: &[u8]) -> Option<(u8, &[u8])> {
    match *aml.first()? {
        ZERO_OP => Some((0, &aml[1..])),
        ONE_OP => Some((1, &aml[1..])),
        BYTE_PREFIX => Some((*aml.get(1)?, &aml[2..])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_qemu_style_packages() {
        // QEMU's q35 DSDT: Name (_S5, Package (0x04) { Zero, Zero, Zero, Zero })
        let aml = [
            0x10, 0x08, NAME_OP, b'_', b'S', b'5', b'_', PACKAGE_OP, 0x06, 0x04, 0, 0, 0, 0,
        ];
        assert_eq!(find_s5(&aml), Some((0, 0)));
        // Bochs/PIIX style with byte prefixes and a root prefix.
        let aml = [
            NAME_OP,
            b'\\',
            b'_',
            b'S',
            b'5',
            b'_',
            PACKAGE_OP,
            0x08,
            0x02,
            BYTE_PREFIX,
            5,
            BYTE_PREFIX,
            7,
        ];
        assert_eq!(find_s5(&aml), Some((5, 7)));
        // A two-byte PkgLength.
        let aml = [
            NAME_OP,
            b'_',
            b'S',
            b'5',
            b'_',
            PACKAGE_OP,
            0x40 | 0x0a,
            0x00,
            0x02,
            ONE_OP,
            ZERO_OP,
        ];
        assert_eq!(find_s5(&aml), Some((1, 0)));
    }

    #[test]
    fn ignores_other_uses_of_the_name() {
        // A method named _S5_ (not a Name), then the real package.
        let aml = [
            0x14,
            b'_',
            b'S',
            b'5',
            b'_',
            0x00,
            NAME_OP,
            b'_',
            b'S',
            b'5',
            b'_',
            PACKAGE_OP,
            0x05,
            0x02,
            BYTE_PREFIX,
            3,
            ZERO_OP,
        ];
        assert_eq!(find_s5(&aml), Some((3, 0)));
        assert_eq!(find_s5(b"no sleep states here"), None);
        assert_eq!(
            find_s5(&[NAME_OP, b'_', b'S', b'5', b'_']),
            None,
            "truncated"
        );
        assert_eq!(
            find_s5(&[
                NAME_OP, b'_', b'S', b'5', b'_', PACKAGE_OP, 0x05, 0x02, 0x99
            ]),
            None
        );
    }
}
