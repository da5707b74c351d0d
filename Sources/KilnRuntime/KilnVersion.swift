/// The version of Kiln that this runtime belongs to.
public enum KilnVersion {
    /// The current Kiln version, as `major.minor.patch`.
    public static let current = "0.1.0"

    /// Whether an artifact compiled by Kiln `version` can run on this runtime.
    ///
    /// Until 1.0 the calling convention and arena layout may change in any
    /// minor release, so major and minor must both match; patch releases only
    /// fix bugs and stay interchangeable.
    static func isCompatible(_ version: String) -> Bool {
        guard let other = majorMinor(of: version), let this = majorMinor(of: current) else {
            return false
        }
        return other == this
    }

    /// The `major.minor` part of a version string, or nil when it is malformed.
    static func majorMinor(of version: String) -> String? {
        let parts = version.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count >= 2, let major = Int(parts[0]), let minor = Int(parts[1]) else {
            return nil
        }
        return "\(major).\(minor)"
    }
}
