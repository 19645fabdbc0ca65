//! sh: the Lux9 shell. Reads command lines from the console (edited with the line editor,
//! with history), a script, standard input or `-c`, and runs built-ins and archive programs.
#![cfg_attr(target_os = "none", no_std, no_main)]

extern crate alloc;

use alloc::collections::VecDeque;
use alloc::string::String;
use alloc::vec;
use alloc::vec::Vec;

use lib9pclient::codec::{DMDIR, OREAD, OWRITE};
use lux9_programs::args::{self, Usage};
use lux9_programs::cmdline::{self, CommandLine, Pipeline};
use lux9_programs::editor::{Editor, Event};
use lux9_programs::{cli, format};
use lux9_rt::abi::env as keys;
use lux9_rt::abi::syscall::{INTERRUPT_VECTOR, KILL_VECTOR};
use lux9_rt::abi::sysinfo::SysInfo;
use lux9_rt::abi::{Error, ExitStatus};
use lux9_rt::env::{self, Command, Output};
use lux9_rt::io::{self, Target};
use lux9_rt::pipe::{self, End};
use lux9_rt::{eprint, eprintln, ns, print, println, sys};

lux9_rt::entry!(run);

const USAGE: Usage = Usage {
    name: "sh",
    synopsis: "[-c command | file]",
    about: "The Lux9 shell. Interactive on the console; runs the lines of FILE, or of standard \
            input when it is redirected (sh < script), or the one command line given with -c. \
            Lines may hold pipelines (a | b), sequences (a; b), conditions (a && b, a || b), \
            $? (the last status) and redirections (< file, > file, >> file); Ctrl-C stops the \
            running line. See docs/shell.md.",
    flags: &[(
        'c',
        "run the command line given as the operands, then exit with its status",
    )],
    values: &[],
};

const PROMPT: &str = "lux9% ";

const BUILTINS: [(&str, &str); 4] = [
    ("cd [dir]", "change the working directory (default /)"),
    ("pwd", "print the working directory"),
    ("help", "show this list"),
    (
        "exit [code]",
        "leave the shell with status code (default 0)",
    ),
];

fn run(args: &str) -> i32 {
    let options = match cli::options(args, &USAGE) {
        Ok(options) => options,
        Err(code) => return code,
    };
    let mut shell = Shell::default();
    if options.has('c') {
        if options.operands.is_empty() {
            return cli::usage_error(&USAGE, "-c needs a command line");
        }
        return shell.execute(&options.operands.join(" "));
    }
    match options.operands.as_slice() {
        [] if !lux9_rt::io::stdin_is_console() => {
            // The script arrives on standard input, so its commands must not read that too:
            // they get the console unless they redirect.
            shell.child_stdin = Some("/dev/cons");
            shell.script_from_stdin()
        }
        [] => shell.interactive(),
        [file] => match ns::read(file) {
            Ok(text) => shell.script(&String::from_utf8_lossy(&text)),
            Err(error) => cli::fail("sh", file, error),
        },
        _ => cli::usage_error(&USAGE, "at most one script file"),
    }
}

#[derive(Default)]
struct Shell {
    /// The status of the last command.
    status: i32,
    /// Set by `exit`.
    exit: Option<i32>,
    /// Standard input for programs that do not redirect it (`None`: this shell's).
    child_stdin: Option<&'static str>,
    /// Whether each job gets a process group of its own that Ctrl-C on the console stops (an
    /// interactive shell). A script's commands stay in the script's group: Ctrl-C stops the
    /// script with them.
    job_control: bool,
    /// Ctrl-C stopped the last job: the rest of the line does not run.
    interrupted: bool,
}

/// `$?` after a job that Ctrl-C stopped, as POSIX shells give for SIGINT.
const INTERRUPTED_STATUS: i32 = 130;

/// Status when a program cannot be found.
const NOT_FOUND_STATUS: i32 = 127;

fn is_builtin(name: &str) -> bool {
    matches!(name, "cd" | "pwd" | "help" | "exit")
}

impl Shell {
    /// Runs one command line; returns its status.
    fn execute(&mut self, line: &str) -> i32 {
        let list = match cmdline::parse_list(line) {
            Ok(list) => list,
            Err(error) => {
                eprintln!("sh: {error}");
                self.status = cli::USAGE_ERROR;
                return self.status;
            }
        };
        for (condition, pipeline) in &list {
            if !condition.holds(self.status) {
                continue;
            }
            self.interrupted = false;
            self.status = self.run_pipeline(pipeline);
            if self.exit.is_some() || self.interrupted {
                break;
            }
        }
        self.status
    }

    /// Runs one pipeline (a lone command included); returns the last command's status.
    fn run_pipeline(&mut self, pipeline: &Pipeline) -> i32 {
        // `$?` is what it was when the pipeline started, in each of its commands.
        let commands: Vec<CommandLine> = pipeline
            .commands
            .iter()
            .map(|command| command.expand(self.status))
            .collect();
        if let [command] = commands.as_slice()
            && is_builtin(command.name())
        {
            return self.builtin(command);
        }
        if let Some(command) = commands.iter().find(|c| is_builtin(c.name())) {
            eprintln!(
                "sh: {}: a built-in cannot be part of a pipeline",
                command.name()
            );
            return cli::USAGE_ERROR;
        }
        self.run_job(&commands)
    }

    /// Runs the lines of `text` until one says `exit`.
    fn script(&mut self, text: &str) -> i32 {
        for line in text.lines() {
            self.execute(line);
            if let Some(code) = self.exit {
                return code;
            }
        }
        self.status
    }

    /// Runs the lines of standard input as they arrive.
    fn script_from_stdin(&mut self) -> i32 {
        let mut pending = Vec::new();
        let mut buf = vec![0u8; 4096];
        loop {
            let n = match io::read_stdin(&mut buf) {
                Ok(n) => n,
                Err(error) => return cli::fail("sh", "standard input", error),
            };
            pending.extend_from_slice(&buf[..n]);
            while let Some(end) = pending.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending.drain(..=end).collect();
                self.execute(&String::from_utf8_lossy(&line));
                if let Some(code) = self.exit {
                    return code;
                }
            }
            if n == 0 {
                // A last line without a newline still counts.
                if !pending.is_empty() {
                    self.execute(&String::from_utf8_lossy(&pending));
                }
                return self.exit.unwrap_or(self.status);
            }
        }
    }

    /// Prompts, reads and runs lines from the console until end of input or `exit`.
    fn interactive(&mut self) -> i32 {
        let mut console = match Console::open() {
            Ok(console) => console,
            Err(error) => return cli::fail("sh", "/dev/cons", error),
        };
        // This shell's jobs take the console's Ctrl-C; between them nobody does (at the
        // prompt it is a byte for the line editor). A shell started by another's job gives it
        // back when it leaves.
        self.job_control = true;
        let outer = sys::console_foreground(0).unwrap_or(0);
        let status = self.prompt_loop(&mut console);
        let _ = sys::console_foreground(outer);
        status
    }

    fn prompt_loop(&mut self, console: &mut Console) -> i32 {
        loop {
            // Raw mode first: what is typed as soon as the prompt shows must not be cooked.
            let raw = console.set_raw(true);
            eprint!("{PROMPT}");
            match console.read_line(raw) {
                Event::Line(line) => {
                    self.execute(&line);
                    if let Some(code) = self.exit {
                        return code;
                    }
                }
                Event::Cancel => {}
                Event::Eof => return 0,
            }
        }
    }

    fn builtin(&mut self, command: &CommandLine) -> i32 {
        if let Some(path) = &command.stdin
            && let Err(error) = ns::stat(path)
        {
            return cli::fail("sh", path, error);
        }
        if let Some(output) = &command.stdout {
            let target = if output.append {
                Target::Append(&output.path)
            } else {
                Target::Truncate(&output.path)
            };
            if let Err(why) = io::set_stdout(target) {
                eprintln!("sh: {why}");
                return cli::FAILURE;
            }
        }
        let status = match (command.name(), command.args()) {
            ("cd", []) => cd("/"),
            ("cd", [dir]) => cd(dir),
            ("pwd", []) => {
                println!("{}", env::cwd());
                0
            }
            ("help", []) => help(),
            ("exit", []) => self.exit_with("0"),
            ("exit", [code]) => self.exit_with(code),
            (name, _) => {
                eprintln!("sh: {name}: too many arguments");
                cli::USAGE_ERROR
            }
        };
        if command.stdout.is_some() {
            restore_stdout();
        }
        status
    }

    fn exit_with(&mut self, code: &str) -> i32 {
        match code.parse::<i32>() {
            Ok(code) => {
                self.exit = Some(code);
                code
            }
            Err(_) => cli::fail("sh", "exit", format_args!("bad status '{code}'")),
        }
    }

    /// Starts every command of a pipeline, each reading the pipe its predecessor writes, and
    /// waits for them all; returns the last one's status.
    ///
    /// The shell holds both ends of each pipe until the commands at its ends have ended (a
    /// child takes its own hold on its end when it first uses it, through the shell's): when
    /// a writer ends, its reader sees the end of file once the writer's children are done
    /// too; when a reader ends, its writer gets a broken pipe.
    fn run_job(&mut self, commands: &[CommandLine]) -> i32 {
        let mut pipes = Vec::with_capacity(commands.len() - 1);
        for _ in 1..commands.len() {
            match pipe::create() {
                Ok(id) => pipes.push(id),
                Err(error) => {
                    for &id in &pipes {
                        let _ = pipe::close(id, End::Read);
                        let _ = pipe::close(id, End::Write);
                    }
                    return cli::fail("sh", "pipe", error);
                }
            }
        }
        let mut job = Job {
            pids: vec![None; commands.len()],
            statuses: vec![0; commands.len()],
            pipes,
        };
        let mut group = 0;
        for (at, command) in commands.iter().enumerate() {
            let input = at.checked_sub(1).map(|before| job.pipes[before]);
            let output = job.pipes.get(at).copied();
            match self.start(command, input, output) {
                Ok(pid) => {
                    job.pids[at] = Some(pid);
                    if self.job_control {
                        // The first command's group, named after it, takes in the others.
                        if let Ok(joined) = sys::set_group(pid, group) {
                            group = joined;
                        }
                    }
                }
                Err(status) => job.ended(at, status),
            }
        }
        let previous = (group != 0)
            .then(|| sys::console_foreground(group).ok())
            .flatten();
        while let Some(at) = job.running() {
            match sys::wait_any() {
                Ok((pid, status)) => {
                    if let Some(at) = job.pids.iter().position(|&p| p == Some(pid)) {
                        let status = self.status_of(&commands[at], status);
                        job.ended(at, status);
                    }
                }
                Err(error) => {
                    // Not expected: the children are ours. Give up on them rather than spin.
                    let name = commands[at].name();
                    let status = cli::fail("sh", name, format_args!("wait: {error}"));
                    for at in 0..commands.len() {
                        if job.pids[at].is_some() {
                            job.ended(at, status);
                        }
                    }
                }
            }
        }
        if let Some(previous) = previous {
            let _ = sys::console_foreground(previous);
        }
        job.statuses[commands.len() - 1]
    }

    /// Starts one command from the archive, its standard input from pipe `input` and its
    /// output to pipe `output` when given. On failure, reports it and gives the status.
    fn start(
        &self,
        command: &CommandLine,
        input: Option<pipe::Id>,
        output: Option<pipe::Id>,
    ) -> Result<usize, i32> {
        let name = command.name();
        // The program splits its argument string into the same words again.
        let mut child = Command::new(name).args(&args::join(command.args()));
        if let Some(path) = &command.stdin {
            if let Err(error) = ns::stat(path) {
                return Err(cli::fail("sh", path, error));
            }
            child = child.stdin(path);
        } else if let Some(id) = input {
            child = child.stdin_pipe(id);
        } else if let Some(path) = self.child_stdin {
            child = child.stdin(path);
        }
        if let Some(output) = &command.stdout {
            // Open it here first, so a bad path is reported before the program starts.
            if let Err(error) = ns::open_or_create(&output.path, output.append) {
                return Err(cli::fail("sh", &output.path, error));
            }
            child = child.stdout(if output.append {
                Output::Append(output.path.clone())
            } else {
                Output::Truncate(output.path.clone())
            });
        } else if let Some(id) = output {
            child = child.stdout(Output::Pipe(id));
        }
        match child.spawn() {
            Ok(pid) => Ok(pid),
            Err(Error::NotFound) => {
                eprintln!("sh: {name}: command not found");
                Err(NOT_FOUND_STATUS)
            }
            Err(error) => Err(cli::fail("sh", name, format_args!("cannot start: {error}"))),
        }
    }

    /// The shell's status for how `command` ended, saying why when it was killed.
    fn status_of(&mut self, command: &CommandLine, status: ExitStatus) -> i32 {
        let name = command.name();
        match status {
            ExitStatus::Exited(code) => code,
            // Ctrl-C: the console already shows ^C.
            ExitStatus::Killed {
                vector: INTERRUPT_VECTOR,
            } => {
                self.interrupted = true;
                INTERRUPTED_STATUS
            }
            ExitStatus::Killed {
                vector: KILL_VECTOR,
            } => {
                eprintln!("sh: {name}: killed");
                128 + i32::from(KILL_VECTOR)
            }
            ExitStatus::Killed { vector } => {
                let fault = format::fault_name(vector);
                eprintln!("sh: {name}: killed by a {fault} (vector {vector})");
                128 + i32::from(vector)
            }
        }
    }
}

/// The commands of a running pipeline and the shell's holds on its pipes.
struct Job {
    /// Each command's pid while it runs.
    pids: Vec<Option<usize>>,
    statuses: Vec<i32>,
    /// `pipes[i]` carries command `i`'s output to command `i + 1`.
    pipes: Vec<pipe::Id>,
}

impl Job {
    /// A command still running (the first), if any.
    fn running(&self) -> Option<usize> {
        self.pids.iter().position(Option::is_some)
    }

    /// Command `at` has ended (or never started) with `status`: the shell lets its holds on
    /// the command's pipe ends go, so that its neighbours see the end of file or a broken pipe.
    fn ended(&mut self, at: usize, status: i32) {
        self.pids[at] = None;
        self.statuses[at] = status;
        if let Some(before) = at.checked_sub(1) {
            let _ = pipe::close(self.pipes[before], End::Read);
        }
        if let Some(&after) = self.pipes.get(at) {
            let _ = pipe::close(after, End::Write);
        }
    }
}

fn cd(dir: &str) -> i32 {
    match ns::stat(dir) {
        Ok(entry) if entry.mode & DMDIR == 0 => {
            cli::fail("sh", "cd", format_args!("{dir}: not a directory"))
        }
        Ok(_) => match env::set_cwd(dir) {
            Ok(()) => 0,
            Err(error) => cli::fail("sh", "cd", error),
        },
        Err(error) => cli::fail("sh", "cd", format_args!("{dir}: {error}")),
    }
}

fn help() -> i32 {
    println!("built-ins:");
    for (usage, what) in BUILTINS {
        println!("  {usage:12} {what}");
    }
    println!("programs (each explains itself with --help):");
    match sys::sysinfo_text(SysInfo::Programs, 0) {
        Ok(text) => {
            let mut names: Vec<&str> = text.lines().filter(|l| !l.is_empty()).collect();
            names.sort_unstable();
            print!("{}", format::wrap_words(&names, 72, "  "));
            println!("redirections: < file, > file, >> file");
            println!("pipes and lists: a | b, a; b, a && b, a || b; $? is the last status");
            println!("Ctrl-C stops the running line");
            0
        }
        Err(error) => cli::fail(
            "sh",
            "help",
            format_args!("cannot list the programs: {error}"),
        ),
    }
}

/// Sends standard output back where it was before a built-in's redirection: the file the
/// parent gave (now appended to), or the console.
fn restore_stdout() {
    let inherited = env::var(keys::STDOUT).or_else(|| env::var(keys::STDOUT_APPEND));
    let _ = io::set_stdout(match inherited {
        Some(path) => Target::Append(path),
        None => Target::Console,
    });
}

/// Console input: raw bytes through the line editor while `/dev/consctl` works, else cooked
/// lines as the kernel edits them.
struct Console {
    cons: ns::File,
    ctl: Option<ns::File>,
    editor: Editor,
    /// Bytes read but not yet fed (typed ahead of the line just submitted).
    pending: VecDeque<u8>,
    buf: Vec<u8>,
}

impl Console {
    fn open() -> Result<Self, lib9pclient::Error> {
        Ok(Self {
            cons: ns::open("/dev/cons", OREAD)?,
            ctl: ns::open("/dev/consctl", OWRITE).ok(),
            editor: Editor::default(),
            pending: VecDeque::new(),
            // More than a cooked line (4096 bytes and its newline): one read is one line.
            buf: vec![0u8; 8192],
        })
    }

    /// Switches raw mode; on failure gives up on raw mode for good.
    fn set_raw(&mut self, raw: bool) -> bool {
        let Some(ctl) = self.ctl.as_mut() else {
            return false;
        };
        let request: &[u8] = if raw { b"rawon" } else { b"rawoff" };
        if ctl.write_at(request, 0).is_err() {
            self.ctl = None;
            return false;
        }
        true
    }

    /// Reads one line: edited here if the console is `raw`, else as the kernel cooked it.
    fn read_line(&mut self, raw: bool) -> Event {
        if !raw {
            return self.read_cooked();
        }
        let event = self.read_edited();
        // Programs the line starts read cooked lines.
        self.set_raw(false);
        event
    }

    fn read_edited(&mut self) -> Event {
        loop {
            let mut echo = String::new();
            while let Some(byte) = self.pending.pop_front() {
                if let Some(event) = self.editor.feed(byte, &mut echo) {
                    eprint!("{echo}");
                    return event;
                }
            }
            eprint!("{echo}");
            match self.cons.read(&mut self.buf) {
                Ok(0) => return Event::Eof,
                Ok(n) => self.pending.extend(&self.buf[..n]),
                Err(error) => {
                    eprintln!("\nsh: /dev/cons: {error}");
                    return Event::Eof;
                }
            }
        }
    }

    fn read_cooked(&mut self) -> Event {
        match self.cons.read(&mut self.buf) {
            Ok(0) => Event::Eof,
            Ok(n) => {
                let line = String::from_utf8_lossy(&self.buf[..n]);
                Event::Line(String::from(line.trim_end_matches(['\n', '\r'])))
            }
            Err(error) => {
                eprintln!("sh: /dev/cons: {error}");
                Event::Eof
            }
        }
    }
}
