//! Cell references (`B7`) both ways, for naming the cell a refusal is about.

/// `B7` as (row 7, column 2), both from 1.
pub(super) fn parse_reference(reference: &[u8]) -> Option<(u32, u32)> {
    let letters = reference
        .iter()
        .take_while(|b| b.is_ascii_alphabetic())
        .count();
    let mut column: u32 = 0;
    for b in &reference[..letters] {
        column = column
            .checked_mul(26)?
            .checked_add(u32::from(b.to_ascii_uppercase() - b'A') + 1)?;
    }
    let row = std::str::from_utf8(&reference[letters..])
        .ok()?
        .parse()
        .ok()?;
    (column > 0).then_some((row, column))
}

/// (row 7, column 2) as `B7`.
pub(super) fn cell_name(row: u32, column: u32) -> String {
    let mut letters = Vec::new();
    let mut n = column.max(1);
    while n > 0 {
        let digit = (n - 1) % 26;
        letters.push(b'A' + digit as u8);
        n = (n - 1) / 26;
    }
    letters.reverse();
    format!("{}{}", String::from_utf8_lossy(&letters), row.max(1))
}
