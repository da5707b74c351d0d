/// Left-aligned, fixed-width text tables for the reports `kiln inspect` prints.
enum TextTable {
    /// `header` and `rows` as lines, each column as wide as its widest cell, two spaces apart.
    static func lines(header: [String], rows: [[String]]) -> [String] {
        let widths = header.indices.map { column in ([header] + rows).map { $0[column].count }.max() ?? 0 }
        func line(_ cells: [String]) -> String {
            let padded = zip(cells, widths).map { $0.padding(toLength: $1, withPad: " ", startingAt: 0) }
            return String(padded.joined(separator: "  ").reversed().drop(while: { $0 == " " }).reversed())
        }
        return [line(header)] + rows.map(line)
    }

    /// `name`, shortened to 48 characters: converters join every folded op's name into one
    /// (TFLite: `a;b;c`), which would make the table unreadable.
    static func shortened(_ name: String) -> String { name.count <= 48 ? name : name.prefix(47) + "…" }
}
