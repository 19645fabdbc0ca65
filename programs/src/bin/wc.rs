//! wc: counts lines, words and bytes (lux9_programs::text::wc).
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::string::{String, ToString};
use alloc::vec;
use alloc::vec::Vec;

use lux9_programs::cli;
use lux9_programs::text::stdio::Session;
use lux9_programs::text::wc::{self, Columns, Counts, USAGE};
use lux9_programs::text::{PIECE, Write};

lux9_rt::entry!(run);

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let columns = Columns::from(&options);
    // Standard input given as no file has no name in the table.
    let named = !options.operands.is_empty();
    let files = lux9_programs::text::inputs(options.operands);
    let mut buf = vec![0u8; PIECE];
    let mut rows: Vec<(Counts, Option<String>)> = Vec::new();
    let mut session = Session::new(USAGE.name);
    session.each_input(&files, |file, input, _| {
        let counts = wc::count(input, &mut buf)?;
        rows.push((counts, named.then(|| file.to_string())));
        Ok(())
    });
    if !rows.is_empty() {
        let rows: Vec<(Counts, Option<&str>)> = rows
            .iter()
            .map(|(counts, name)| (*counts, name.as_deref()))
            .collect();
        let result = session.out.write(wc::table(&rows, columns).as_bytes());
        session.wrote(result);
    }
    session.status()
}
