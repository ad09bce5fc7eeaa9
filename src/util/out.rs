//! Output for people: text taken from docs sites and clusters is stripped of terminal control
//! characters before it reaches a terminal (no window titles, clipboard writes or hidden text
//! from a heading or a warning message), and a closed pipe (`incus-ai search ... | head`) ends
//! the program quietly instead of with a panic.

use std::borrow::Cow;
use std::io::Write;

/// Whether `c` may not reach a terminal: C0 controls other than tab and newline, DEL, C1
/// controls, and the Unicode controls that reorder or hide text.
fn forbidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `s` without terminal control characters (escape sequences lose their ESC and become
/// visible, harmless text).
pub fn clean(s: &str) -> Cow<'_, str> {
    if s.chars().any(forbidden) {
        Cow::Owned(s.chars().filter(|c| !forbidden(*c)).collect())
    } else {
        Cow::Borrowed(s)
    }
}

/// `s` on one line with every control character shown as an escape (`\n`, `\u{1b}`): what a
/// person must read exactly (a change's preview) can neither hide text nor add lines.
pub fn visible(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if forbidden(c) => out.push_str(&c.escape_unicode().to_string()),
            c => out.push(c),
        }
    }
    out
}

/// `s` on one line without control characters (for error messages built from outside text).
pub fn one_line(s: &str) -> String {
    clean(&s.replace(['\n', '\r', '\t'], " ")).into_owned()
}

fn write(mut w: impl Write, text: &str) {
    let r = w.write_all(text.as_bytes()).and_then(|()| w.flush());
    if let Err(e) = r
        && e.kind() == std::io::ErrorKind::BrokenPipe
    {
        // The reader is gone (`| head`): nothing more to say to anyone.
        std::process::exit(0);
    }
}

/// Prints human text on stdout, cleaned; exits quietly when stdout is a closed pipe.
pub fn print(text: &str) {
    write(std::io::stdout().lock(), &clean(text));
}

/// [`print()`] with a newline.
pub fn println(text: &str) {
    print(&format!("{text}\n"));
}

/// Prints machine output (JSON) on stdout as it is; exits quietly on a closed pipe.
pub fn print_raw(text: &str) {
    write(std::io::stdout().lock(), text);
}

/// Prints a line on stderr, cleaned.
pub fn eprintln(text: &str) {
    write(std::io::stderr().lock(), &format!("{}\n", clean(text)));
}

/// `println!` for people: cleaned, quiet on a closed pipe.
#[macro_export]
macro_rules! outln {
    () => { $crate::util::out::print("\n") };
    ($($t:tt)*) => { $crate::util::out::println(&format!($($t)*)) };
}

/// `print!` for people: cleaned, quiet on a closed pipe.
#[macro_export]
macro_rules! out {
    ($($t:tt)*) => { $crate::util::out::print(&format!($($t)*)) };
}

/// `eprintln!`, cleaned.
#[macro_export]
macro_rules! errln {
    ($($t:tt)*) => { $crate::util::out::eprintln(&format!($($t)*)) };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_controls_are_removed() {
        assert_eq!(clean("plain text\n\tok"), "plain text\n\tok");
        assert_eq!(
            clean("\u{1b}]0;pwned\u{7}Title\u{1b}]52;c;ZXZpbA==\u{7}"),
            "]0;pwnedTitle]52;c;ZXZpbA=="
        );
        assert_eq!(clean("a\u{1b}[8mhidden\u{1b}[0m b"), "a[8mhidden[0m b");
        assert_eq!(clean("x\u{9b}31m y\u{202e}z\r"), "x31m yz");
        assert_eq!(one_line("a\nb\u{1b}c"), "a bc");
        assert_eq!(
            visible("x\u{1b}[1A\u{1b}[2K\nincus y\u{202e}"),
            "x\\u{1b}[1A\\u{1b}[2K\\nincus y\\u{202e}"
        );
    }
}
