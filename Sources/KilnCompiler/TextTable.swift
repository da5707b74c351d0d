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

    /// `name` as a report shows it in `style`.
    static func shortened(_ name: String, _ style: LayerNameStyle = .short) -> String {
        style == .full ? name : style.apply(to: name)
    }
}

/// How reports (`kiln inspect`, `kiln bench --per-layer`) show layer and tensor names.
public enum LayerNameStyle: Sendable {
    /// The name as the model gives it.
    case full
    /// Imported names made readable: the first of the names a converter joins with `;` for
    /// the ops it folded, its TensorFlow `:0` suffix dropped, without its outermost `/` scope (the
    /// model's: `mobilenetv2_1.00_224/block_1_expand_relu/Relu6` → `block_1_expand_relu/Relu6`)
    /// and further outer scopes while longer than 48 characters, then cut to 48.
    case short

    /// A kernel's label in this style: a layer absorbed into another names that one.
    public func applyToKernel(_ kernel: String) -> String {
        let absorbed = "absorbed into "
        return kernel.hasPrefix(absorbed) ? absorbed + apply(to: String(kernel.dropFirst(absorbed.count))) : kernel
    }

    /// `name` in this style.
    public func apply(to name: String) -> String {
        guard self == .short else { return name }
        var text = Substring(name.split(separator: ";", omittingEmptySubsequences: true).first ?? Substring(name))
        if let colon = text.lastIndex(of: ":"), !text[text.index(after: colon)...].isEmpty,
            text[text.index(after: colon)...].allSatisfy(\.isNumber)
        {
            text = text[..<colon]
        }
        // The first scope is the model's own (`functional_1`, `mobilenetv2_1.00_224`); then as many
        // of the innermost scopes as fit.
        var scopes = text.split(separator: "/").map(String.init)
        if scopes.count > 2 { scopes.removeFirst() }
        while scopes.count > 2, scopes.joined(separator: "/").count > 48 { scopes.removeFirst() }
        let short = scopes.joined(separator: "/")
        let result = short.isEmpty ? name : short
        return result.count <= 48 ? result : result.prefix(47) + "…"
    }
}
