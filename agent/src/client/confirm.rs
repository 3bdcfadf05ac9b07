//! Copies and updates to the master overwrite it, so `iiadm` asks first: on a terminal
//! it asks "... (yes/no)"; when standard input is not a terminal nobody can answer, so
//! it refuses unless `-n`/`--yes` was given (and says so). The API itself never
//! guesses: this rule lives in the client.

use std::io::{BufRead, IsTerminal, Write};

use super::error::ClientError;

/// Where a question can be asked.
pub trait Terminal {
    /// Whether standard input is a terminal a person can answer at.
    fn is_interactive(&self) -> bool;
    /// Shows `question` and reads one line of answer.
    fn ask(&mut self, question: &str) -> std::io::Result<String>;
}

/// Standard input and standard error.
#[derive(Debug, Default)]
pub struct StdTerminal;

impl Terminal for StdTerminal {
    fn is_interactive(&self) -> bool {
        std::io::stdin().is_terminal()
    }

    fn ask(&mut self, question: &str) -> std::io::Result<String> {
        let mut err = std::io::stderr();
        write!(err, "{question} ")?;
        err.flush()?;
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        Ok(line)
    }
}

/// Whether an overwrite described by `question` ("Overwrite the master volume ...?")
/// may go ahead: `yes` given, or a person answered yes.
pub fn confirm_overwrite(
    question: &str,
    yes: bool,
    terminal: &mut dyn Terminal,
) -> Result<(), ClientError> {
    if yes {
        return Ok(());
    }
    if !terminal.is_interactive() {
        return Err(ClientError::NotConfirmed(format!(
            "{question} Standard input is not a terminal, so nobody can confirm: nothing \
             was done. Add -n (or --yes) to overwrite without asking."
        )));
    }
    let answer = terminal
        .ask(&format!("{question} (yes/no)"))
        .map_err(|e| ClientError::NotConfirmed(format!("no answer ({e}): nothing was done")))?;
    match answer.trim().to_ascii_lowercase().as_str() {
        "yes" | "y" => Ok(()),
        _ => Err(ClientError::NotConfirmed(
            "not confirmed: nothing was done".into(),
        )),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// A terminal with canned answers that records the questions asked.
    #[derive(Debug, Default)]
    pub struct FakeTerminal {
        pub interactive: bool,
        pub answers: Vec<String>,
        pub asked: Vec<String>,
    }

    impl Terminal for FakeTerminal {
        fn is_interactive(&self) -> bool {
            self.interactive
        }

        fn ask(&mut self, question: &str) -> std::io::Result<String> {
            self.asked.push(question.to_string());
            if self.answers.is_empty() {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "end of input",
                ));
            }
            Ok(self.answers.remove(0))
        }
    }

    fn term(interactive: bool, answers: &[&str]) -> FakeTerminal {
        FakeTerminal {
            interactive,
            answers: answers.iter().map(|s| s.to_string()).collect(),
            asked: Vec::new(),
        }
    }

    const Q: &str = "Overwrite the master volume /dev/vdb of set web with the shadow /dev/vdc?";

    #[test]
    fn yes_given_asks_nothing() {
        for interactive in [false, true] {
            let mut t = term(interactive, &[]);
            confirm_overwrite(Q, true, &mut t).unwrap();
            assert!(t.asked.is_empty());
        }
    }

    #[test]
    fn without_a_terminal_it_refuses_and_says_what_to_add() {
        let mut t = term(false, &["yes"]);
        let e = confirm_overwrite(Q, false, &mut t).unwrap_err();
        assert!(t.asked.is_empty(), "nobody to ask");
        let text = e.to_string();
        assert!(text.starts_with(Q), "{text}");
        assert!(text.contains("-n (or --yes)"), "{text}");
        assert_eq!(e.exit_code(), super::super::error::exit::USAGE);
    }

    #[test]
    fn on_a_terminal_only_yes_goes_ahead() {
        for ok in ["yes\n", "y\n", " YES \n"] {
            let mut t = term(true, &[ok]);
            confirm_overwrite(Q, false, &mut t).unwrap();
            assert_eq!(t.asked, vec![format!("{Q} (yes/no)")]);
        }
        for no in ["no\n", "\n", "yess\n", "ok\n"] {
            let mut t = term(true, &[no]);
            let e = confirm_overwrite(Q, false, &mut t).unwrap_err();
            assert!(e.to_string().contains("not confirmed"), "{no:?}: {e}");
        }
        // End of input is no answer.
        let mut t = term(true, &[]);
        assert!(confirm_overwrite(Q, false, &mut t).is_err());
    }
}
