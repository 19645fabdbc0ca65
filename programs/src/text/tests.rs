use alloc::vec::Vec;

use super::*;

fn lines_of(input: &[u8], size: usize, buf_len: usize) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    let mut buf = alloc::vec![0u8; buf_len];
    for_each_line(&mut Pieces::new(input, size), &mut buf, |line| {
        lines.push(line.to_vec());
        Ok(ControlFlow::Continue(()))
    })
    .unwrap();
    lines
}

#[test]
fn lines_in_any_pieces() {
    let input = b"one\ntwo\n\nlast";
    for size in 1..=16 {
        for buf_len in [1, 3, 64] {
            assert_eq!(
                lines_of(input, size, buf_len),
                [&b"one\n"[..], b"two\n", b"\n", b"last"],
                "pieces of {size}, buffer of {buf_len}"
            );
        }
    }
    assert!(lines_of(b"", 4, 4).is_empty());
    assert_eq!(lines_of(b"\n", 4, 4), [b"\n"]);
    assert_eq!(lines_of(b"x", 4, 4), [b"x"]);
}

#[test]
fn lines_stop_early() {
    let input = b"a\nb\nc\nd\n";
    let mut source = Pieces::new(input, 2);
    let mut seen = 0;
    for_each_line(&mut source, &mut [0u8; 2], |_| {
        seen += 1;
        Ok(if seen == 2 {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        })
    })
    .unwrap();
    assert_eq!(seen, 2);
    assert_eq!(source.read, 4, "nothing read after the stop");
}

#[test]
fn line_errors_pass_through() {
    let result = for_each_line(&mut Failing(b"a\nb"), &mut [0u8; 8], |_| {
        Ok(ControlFlow::Continue(()))
    });
    assert_eq!(result, Err(Error::Read("i/o error".into())));
    let result = for_each_line(&mut Pieces::new(b"a\n", 8), &mut [0u8; 8], |_| {
        Err(Error::Write)
    });
    assert_eq!(result, Err(Error::Write));
}

#[test]
fn buffered_output_gathers_writes() {
    let mut writes: Vec<Vec<u8>> = Vec::new();
    let mut out = Buffered::with_capacity(8, |bytes: &[u8]| {
        writes.push(bytes.to_vec());
        true
    });
    for _ in 0..5 {
        out.write(b"abc").unwrap();
    }
    out.write(b"0123456789").unwrap(); // larger than the buffer: straight through
    out.write(b"z").unwrap();
    out.flush().unwrap();
    out.flush().unwrap(); // nothing left: no empty write
    drop(out);
    assert_eq!(
        writes,
        [&b"abcabc"[..], b"abcabc", b"abc", b"0123456789", b"z"]
    );
}

#[test]
fn buffered_output_can_stop_buffering() {
    let mut writes: Vec<Vec<u8>> = Vec::new();
    let mut out = Buffered::with_capacity(8, |bytes: &[u8]| {
        writes.push(bytes.to_vec());
        true
    });
    out.write(b"ab").unwrap();
    out.set_capacity(1).unwrap();
    out.write(b"c").unwrap();
    out.write(b"de").unwrap();
    out.set_capacity(8).unwrap();
    out.write(b"f").unwrap();
    out.write(b"g").unwrap();
    out.flush().unwrap();
    drop(out);
    assert_eq!(writes, [&b"ab"[..], b"c", b"de", b"fg"]);
}

#[test]
fn buffered_output_reports_a_failed_write() {
    let mut out = Buffered::with_capacity(4, |_: &[u8]| false);
    assert_eq!(out.write(b"ab"), Ok(()), "buffered, not yet written");
    assert_eq!(out.write(b"cde"), Err(Error::Write));
    assert_eq!(out.write(b"abcdef"), Err(Error::Write));
    let mut out = Buffered::with_capacity(4, |_: &[u8]| false);
    out.write(b"a").unwrap();
    assert_eq!(out.flush(), Err(Error::Write));
}

#[test]
fn helpers() {
    assert_eq!(inputs(Vec::new()), ["-"]);
    assert_eq!(inputs(alloc::vec!["a".into(), "-".into()]), ["a", "-"]);
    assert_eq!(label("-"), "standard input");
    assert_eq!(label("/x"), "/x");
    assert_eq!(content(b"a\n"), b"a");
    assert_eq!(content(b"a"), b"a");
    assert_eq!(content(b"\n"), b"");
    let mut out = Vec::new();
    write_line(&mut out, b"a\n").unwrap();
    write_line(&mut out, b"b").unwrap();
    write_line(&mut out, b"").unwrap();
    assert_eq!(out, b"a\nb\n\n");
}
