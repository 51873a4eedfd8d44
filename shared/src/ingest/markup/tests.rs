use super::reference::{cell_name, parse_reference};
use super::*;

fn sheet(xml: &[u8]) -> Result<(), Refusal> {
    let part = Part {
        name: "xl/worksheets/sheet1.xml",
        shared_strings: false,
        max_strings: 0,
    };
    scan(xml, &part, &mut Targets::default())
}

fn unsafe_reason(r: Result<(), Refusal>) -> String {
    match r {
        Err(Refusal::Unsafe(why)) => why,
        other => panic!("not refused as unsafe: {other:?}"),
    }
}

#[test]
fn cell_names_go_both_ways() {
    for (name, at) in [
        ("A1", (1, 1)),
        ("Z9", (9, 26)),
        ("AA2", (2, 27)),
        ("XFD1048576", (1_048_576, 16_384)),
    ] {
        assert_eq!(parse_reference(name.as_bytes()), Some(at));
        assert_eq!(cell_name(at.0, at.1), name);
    }
    assert_eq!(parse_reference(b"7"), None);
}

#[test]
fn a_long_cell_is_named_even_without_references() {
    let long = "x".repeat(MAX_TEXT_BYTES as usize + 1);
    let xml = format!(
        r#"<?xml version="1.0"?><worksheet><sheetData><row><c><v>1</v></c></row><row><c/><c t="inlineStr"><is><r><t>{}</t></r><r><t>{}</t></r></is></c></row></sheetData></worksheet>"#,
        &long[..1000],
        &long[1000..]
    );
    assert_eq!(
        unsafe_reason(sheet(xml.as_bytes())),
        "cell B2 holds more than 32,767 characters, Excel's limit for a cell"
    );
}

#[test]
fn quotes_cdata_and_comments_do_not_hide_a_long_piece() {
    let gt = ">".repeat(MAX_MARKUP_BYTES as usize + 1);
    let attribute = format!(r#"<worksheet><c r="A1" x="{gt}"/></worksheet>"#);
    assert!(unsafe_reason(sheet(attribute.as_bytes())).contains("markup"));
    let comment = format!("<worksheet><!--{gt}--></worksheet>");
    assert!(unsafe_reason(sheet(comment.as_bytes())).contains("markup"));
    let cdata = format!(r#"<worksheet><c r="C3"><v><![CDATA[{gt}]]></v></c></worksheet>"#);
    assert!(unsafe_reason(sheet(cdata.as_bytes())).contains("cell C3"));
    let doctype = b"<?xml version='1.0'?><!DOCTYPE x [<!ENTITY a 'b'>]><worksheet/>";
    assert!(unsafe_reason(sheet(doctype)).contains("DTD"));
}

#[test]
fn ordinary_markup_and_binary_parts_pass() {
    let xml = br#"<?xml version="1.0"?><!-- a > b --><worksheet a='x>y'><c r="A1" t="inlineStr"><is><t>&amp;<![CDATA[<>]]></t></is></c><c r="B1"/></worksheet>"#;
    assert!(sheet(xml).is_ok());
    assert!(looks_like_xml(b"\xEF\xBB\xBF \r\n<?xml"));
    assert!(!looks_like_xml(b"\x89PNG\r\n"));
}

#[test]
fn relationships_name_the_binary_parts() {
    let rels = br#"<Relationships><Relationship Id="rId1" Type="http://x/relationships/image" Target="../media/Image1.PNG"/><Relationship Id="rId2" Type="http://x/relationships/worksheet" Target="worksheets/sheet1.bin"/></Relationships>"#;
    let part = Part {
        name: "xl/_rels/workbook.xml.rels",
        shared_strings: false,
        max_strings: 0,
    };
    let mut targets = Targets::default();
    scan(&rels[..], &part, &mut targets).unwrap();
    assert!(targets.only_binary("xl/media/image1.png"));
    assert!(!targets.only_binary("xl/worksheets/sheet1.bin"));
    // A part also targeted as something else is read.
    let rels = br#"<Relationships><Relationship Type="http://x/image" Target="a.png"/><Relationship Type="http://x/worksheet" Target="a.png"/></Relationships>"#;
    let mut targets = Targets::default();
    scan(&rels[..], &part, &mut targets).unwrap();
    assert!(!targets.only_binary("xl/media/a.png"));
}
