//! The SCIM filter subset Okta and Microsoft Entra ID send (RFC 7644 §3.4.2.2):
//! `eq` comparisons of `userName`, `externalId` and the work email
//! (`emails[type eq "work"].value`, or `emails.value`), joined by `and`, with
//! parentheses. Attribute names and operators are case-insensitive, and so is
//! `userName`'s value (RFC 7643 §4.1.1: caseExact false). Anything else is an
//! `invalidFilter` error that says what is not supported; nothing is guessed.

use roster_shared::model::ScimCondition;

/// The core User schema's URN, which may prefix an attribute name.
const USER_URN: &str = "urn:ietf:params:scim:schemas:core:2.0:user:";
/// Parentheses nested deeper than this are refused: the parser recurses once
/// a level, and a body of nested parentheses must not exhaust the stack.
const MAX_DEPTH: usize = 32;

/// A filter's conditions (all must hold), or why it cannot be used.
pub fn parse(text: &str) -> Result<Vec<ScimCondition>, String> {
    let tokens = tokenize(text)?;
    let mut parser = Parser {
        tokens,
        at: 0,
        depth: 0,
    };
    let mut conditions = Vec::new();
    parser.conjunction(&mut conditions)?;
    if let Some(token) = parser.peek() {
        return Err(format!("unexpected {} after the filter", token.describe()));
    }
    Ok(conditions)
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Text(String),
    Open,
    Close,
    OpenBracket,
    CloseBracket,
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Word(w) => format!("'{w}'"),
            Token::Text(_) => "a string".into(),
            Token::Open => "'('".into(),
            Token::Close => "')'".into(),
            Token::OpenBracket => "'['".into(),
            Token::CloseBracket => "']'".into(),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some(&(start, c)) = chars.peek() {
        match c {
            // Any whitespace, Unicode's too: a word stops at it, so a word
            // starting with it would be empty and never consume it.
            c if c.is_whitespace() => {
                chars.next();
            }
            '(' | ')' | '[' | ']' => {
                chars.next();
                tokens.push(match c {
                    '(' => Token::Open,
                    ')' => Token::Close,
                    '[' => Token::OpenBracket,
                    _ => Token::CloseBracket,
                });
            }
            '"' => {
                // A JSON string: read up to the closing quote, escapes included.
                chars.next();
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    match (escaped, c) {
                        (true, _) => escaped = false,
                        (false, '\\') => escaped = true,
                        (false, '"') => {
                            end = Some(i);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or("a string is not closed")?;
                let value: String = serde_json::from_str(&text[start..=end])
                    .map_err(|_| "a string has an invalid escape".to_owned())?;
                tokens.push(Token::Text(value));
            }
            _ => {
                let mut end = start;
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(text[start..end].to_owned()));
            }
        }
    }
    if tokens.is_empty() {
        return Err("the filter is empty".into());
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    at: usize,
    /// Parentheses open around the term being read.
    depth: usize,
}

/// Which attribute a comparison names.
#[derive(Debug, PartialEq)]
enum Attribute {
    UserName,
    ExternalId,
    WorkEmail,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.at).cloned();
        self.at += 1;
        token
    }

    fn expect(&mut self, want: Token) -> Result<(), String> {
        match self.next() {
            Some(t) if t == want => Ok(()),
            Some(t) => Err(format!(
                "expected {}, found {}",
                want.describe(),
                t.describe()
            )),
            None => Err(format!("expected {} at the end", want.describe())),
        }
    }

    /// term *("and" term)
    fn conjunction(&mut self, into: &mut Vec<ScimCondition>) -> Result<(), String> {
        self.term(into)?;
        while let Some(Token::Word(w)) = self.peek() {
            match w.to_ascii_lowercase().as_str() {
                "and" => {
                    self.at += 1;
                    self.term(into)?;
                }
                "or" => return Err("'or' is not supported (only 'and')".into()),
                _ => return Err(format!("expected 'and', found '{w}'")),
            }
        }
        Ok(())
    }

    /// "(" conjunction ")" | attrPath "eq" value
    fn term(&mut self, into: &mut Vec<ScimCondition>) -> Result<(), String> {
        match self.next() {
            Some(Token::Open) => {
                self.depth += 1;
                if self.depth > MAX_DEPTH {
                    return Err(format!("parentheses nest more than {MAX_DEPTH} deep"));
                }
                self.conjunction(into)?;
                self.depth -= 1;
                self.expect(Token::Close)
            }
            Some(Token::Word(w)) if w.eq_ignore_ascii_case("not") => {
                Err("'not' is not supported".into())
            }
            Some(Token::Word(name)) => {
                let attribute = self.attribute(&name)?;
                match self.next() {
                    Some(Token::Word(op)) if op.eq_ignore_ascii_case("eq") => {}
                    Some(Token::Word(op)) => {
                        return Err(format!("operator '{op}' is not supported (only 'eq')"));
                    }
                    Some(t) => return Err(format!("expected an operator, found {}", t.describe())),
                    None => return Err("expected an operator at the end".into()),
                }
                let value = match self.next() {
                    Some(Token::Text(value)) => value,
                    Some(t) => {
                        return Err(format!(
                            "expected a quoted string to compare with, found {}",
                            t.describe()
                        ));
                    }
                    None => return Err("expected a value at the end".into()),
                };
                into.push(match attribute {
                    Attribute::ExternalId => ScimCondition::ExternalId(value),
                    Attribute::UserName | Attribute::WorkEmail => ScimCondition::UserName(value),
                });
                Ok(())
            }
            Some(t) => Err(format!("expected an attribute, found {}", t.describe())),
            None => Err("expected an attribute at the end".into()),
        }
    }

    /// `userName`, `externalId`, `emails.value`, or `emails[type eq "work"].value`.
    fn attribute(&mut self, name: &str) -> Result<Attribute, String> {
        let lower = name.to_ascii_lowercase();
        let lower = lower.strip_prefix(USER_URN).unwrap_or(&lower);
        match lower {
            "username" => return Ok(Attribute::UserName),
            "externalid" => return Ok(Attribute::ExternalId),
            "emails.value" => return Ok(Attribute::WorkEmail),
            "emails" => {}
            _ => return Err(format!("filtering on '{name}' is not supported")),
        }
        self.expect(Token::OpenBracket)?;
        let ok = matches!(self.next(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("type"))
            && matches!(self.next(), Some(Token::Word(w)) if w.eq_ignore_ascii_case("eq"))
            && matches!(self.next(), Some(Token::Text(t)) if t.eq_ignore_ascii_case("work"));
        if !ok {
            return Err("only emails[type eq \"work\"] is supported".into());
        }
        self.expect(Token::CloseBracket)?;
        match self.next() {
            Some(Token::Word(w)) if w.eq_ignore_ascii_case(".value") => Ok(Attribute::WorkEmail),
            _ => Err("expected '.value' after emails[type eq \"work\"]".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ScimCondition::{ExternalId, UserName};

    #[test]
    fn the_filters_okta_and_entra_send_are_read() {
        assert_eq!(
            parse(r#"userName eq "ana@acme.test""#).unwrap(),
            [UserName("ana@acme.test".into())]
        );
        assert_eq!(
            parse(r#"USERNAME EQ "Ana@Acme.test""#).unwrap(),
            [UserName("Ana@Acme.test".into())]
        );
        assert_eq!(
            parse(r#"externalId eq "00u1""#).unwrap(),
            [ExternalId("00u1".into())]
        );
        assert_eq!(
            parse(r#"emails[type eq "work"].value eq "a@b.test""#).unwrap(),
            [UserName("a@b.test".into())]
        );
        assert_eq!(
            parse(r#"(userName eq "a\"b") and urn:ietf:params:scim:schemas:core:2.0:User:externalId eq "x""#)
                .unwrap(),
            [UserName("a\"b".into()), ExternalId("x".into())]
        );
    }

    #[test]
    fn anything_else_says_what_is_not_supported() {
        for (filter, says) in [
            ("", "empty"),
            ("userName", "operator"),
            (r#"userName co "a""#, "'co' is not supported"),
            (r#"userName eq "a" or userName eq "b""#, "'or'"),
            (r#"not (userName eq "a")"#, "'not'"),
            (r#"title eq "a""#, "'title' is not supported"),
            (r#"userName eq "a"#, "not closed"),
            ("userName eq 7", "quoted string"),
            (r#"emails[type eq "home"].value eq "a""#, "work"),
            (r#"userName eq "a")"#, "unexpected"),
            (r#"(userName eq "a""#, "expected ')'"),
            (r#"userName eq "a" userName"#, "expected 'and'"),
        ] {
            let error = parse(filter).unwrap_err();
            assert!(error.contains(says), "{filter}: {error}");
        }
    }

    /// Schemathesis found it: a filter with whitespace outside ASCII's (a
    /// vertical tab, a no-break space) made the tokenizer push empty words
    /// forever, and the API grew to 23 GB before the kernel killed it.
    #[test]
    fn any_whitespace_separates_words() {
        for space in ['\u{b}', '\u{c}', '\u{a0}', '\u{2028}', '\u{3000}'] {
            let filter = format!("userName{space}eq{space}\"a@b.test\"{space}");
            assert_eq!(
                parse(&filter).unwrap(),
                [UserName("a@b.test".into())],
                "{filter:?}"
            );
            let error = parse(&format!("{space}")).unwrap_err();
            assert!(error.contains("empty"), "{space:?}: {error}");
        }
    }

    /// A body of nested parentheses (`POST /.search` takes up to the body
    /// limit) is refused before it can exhaust the stack.
    #[test]
    fn deep_nesting_is_refused_not_recursed_into() {
        let nested = |n: usize| format!("{}userName eq \"a\"{}", "(".repeat(n), ")".repeat(n));
        assert_eq!(parse(&nested(MAX_DEPTH)).unwrap(), [UserName("a".into())]);
        let error = parse(&nested(MAX_DEPTH + 1)).unwrap_err();
        assert!(error.contains("nest more than 32 deep"), "{error}");
        let error = parse(&"(".repeat(1_000_000)).unwrap_err();
        assert!(error.contains("nest more than"), "{error}");
    }
}
