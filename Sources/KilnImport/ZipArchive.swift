/// The subset of the zip format `.npz` files use: one disk, stored or
/// deflated members, no encryption, no zip64.
struct ZipArchive {
    /// One file in the archive, as the central directory describes it.
    struct Member {
        var name: String
        var method: UInt16
        var crc: UInt32
        var compressedSize: Int
        var uncompressedSize: Int
        var localHeaderOffset: Int
    }

    private static let localHeaderSignature: UInt32 = 0x0403_4B50
    private static let centralHeaderSignature: UInt32 = 0x0201_4B50
    private static let endSignature: UInt32 = 0x0605_4B50
    private static let endRecordSize = 22
    private static let stored: UInt16 = 0
    private static let deflated: UInt16 = 8

    private let reader: ByteReader
    /// The members in central-directory order.
    let members: [Member]

    /// Reads the central directory of the archive in `bytes`; `source` names it in errors.
    init(bytes: [UInt8], source: String) throws {
        reader = ByteReader(bytes: bytes, source: source)
        let endOffset = try Self.findEndRecord(reader)
        let diskNumber = try reader.uint16(at: endOffset + 4, "end of central directory")
        let directoryDisk = try reader.uint16(at: endOffset + 6, "end of central directory")
        let entriesOnDisk = try reader.uint16(at: endOffset + 8, "end of central directory")
        let entryCount = try reader.uint16(at: endOffset + 10, "end of central directory")
        let directorySize = try reader.uint32(at: endOffset + 12, "end of central directory")
        let directoryOffset = try reader.uint32(at: endOffset + 16, "end of central directory")
        if entryCount == 0xFFFF || directorySize == 0xFFFF_FFFF || directoryOffset == 0xFFFF_FFFF {
            throw WeightFileError(
                source,
                "is a zip64 archive (over 65535 members or 4 GiB), which is not supported; "
                    + "split the weights into smaller files")
        }
        guard diskNumber == 0, directoryDisk == 0, entriesOnDisk == entryCount else {
            throw WeightFileError(
                source, "is a multi-part (split) zip archive, which is not supported")
        }
        guard reader.contains(offset: Int(directoryOffset), count: Int(directorySize)),
            Int(directoryOffset) + Int(directorySize) <= endOffset
        else {
            throw WeightFileError(
                source,
                "the central directory (\(directorySize) bytes at byte \(directoryOffset)) lies outside the "
                    + "file; the file is truncated or corrupt")
        }

        var members: [Member] = []
        var names: Set<String> = []
        var offset = Int(directoryOffset)
        for _ in 0..<entryCount {
            let member = try Self.readCentralHeader(reader, at: &offset)
            guard names.insert(member.name).inserted else {
                throw WeightFileError(
                    source, "the archive holds two members named '\(member.name)'; it is corrupt")
            }
            members.append(member)
        }
        self.members = members
    }

    /// Finds the end-of-central-directory record, which ends the file after an optional comment.
    private static func findEndRecord(_ reader: ByteReader) throws -> Int {
        guard reader.count >= endRecordSize else {
            throw WeightFileError(
                reader.source,
                "is \(reader.count) bytes, too short to be a zip archive; the file is truncated "
                    + "or is not an .npz file")
        }
        let last = reader.count - endRecordSize
        let first = max(0, last - Int(UInt16.max))
        for offset in stride(from: last, through: first, by: -1) {
            guard try reader.uint32(at: offset, "end of central directory") == endSignature else {
                continue
            }
            let commentLength = try reader.uint16(at: offset + 20, "end of central directory")
            if offset + endRecordSize + Int(commentLength) == reader.count { return offset }
        }
        throw WeightFileError(
            reader.source,
            "has no zip end-of-central-directory record; the file is truncated or is not an .npz file"
        )
    }

    private static func readCentralHeader(_ reader: ByteReader, at offset: inout Int) throws
        -> Member
    {
        let what = "central directory"
        guard try reader.uint32(at: offset, what) == centralHeaderSignature else {
            throw WeightFileError(
                reader.source, "the zip central directory is corrupt at byte \(offset)")
        }
        let flags = try reader.uint16(at: offset + 8, what)
        let method = try reader.uint16(at: offset + 10, what)
        let crc = try reader.uint32(at: offset + 16, what)
        let compressedSize = try reader.uint32(at: offset + 20, what)
        let uncompressedSize = try reader.uint32(at: offset + 24, what)
        let nameLength = Int(try reader.uint16(at: offset + 28, what))
        let extraLength = Int(try reader.uint16(at: offset + 30, what))
        let commentLength = Int(try reader.uint16(at: offset + 32, what))
        let localHeaderOffset = try reader.uint32(at: offset + 42, what)
        let name = String(
            decoding: try reader.bytes(at: offset + 46, count: nameLength, what), as: UTF8.self)
        offset += 46 + nameLength + extraLength + commentLength

        let problem: String? =
            if compressedSize == 0xFFFF_FFFF || uncompressedSize == 0xFFFF_FFFF
                || localHeaderOffset == 0xFFFF_FFFF
            {
                "uses zip64 (members over 4 GiB), which is not supported"
            } else if flags & 1 != 0 {
                "is encrypted, which is not supported"
            } else if method != stored && method != deflated {
                "uses compression method \(method); only stored (0) and deflate (8) are supported"
            } else {
                nil
            }
        if let problem {
            throw WeightFileError(reader.source, "member '\(name)' \(problem)")
        }
        return Member(
            name: name, method: method, crc: crc, compressedSize: Int(compressedSize),
            uncompressedSize: Int(uncompressedSize), localHeaderOffset: Int(localHeaderOffset))
    }

    /// The uncompressed, CRC-checked contents of `member`.
    func contents(of member: Member) throws -> [UInt8] {
        let what = "local header of member '\(member.name)'"
        let source = reader.source
        let offset = member.localHeaderOffset
        guard try reader.uint32(at: offset, what) == Self.localHeaderSignature else {
            throw WeightFileError(source, "the local header of member '\(member.name)' is corrupt")
        }
        let nameLength = Int(try reader.uint16(at: offset + 26, what))
        let extraLength = Int(try reader.uint16(at: offset + 28, what))
        let localName = try reader.bytes(at: offset + 30, count: nameLength, what)
        guard localName.elementsEqual(member.name.utf8) else {
            throw WeightFileError(
                source,
                "the local header of member '\(member.name)' names another file; it is corrupt")
        }
        // Sizes come from the central directory: np.savez writes zip64 placeholders in local headers.
        let data = try reader.bytes(
            at: offset + 30 + nameLength + extraLength, count: member.compressedSize,
            "data of member '\(member.name)'")

        let contents: [UInt8]
        if member.method == Self.stored {
            guard member.compressedSize == member.uncompressedSize else {
                throw WeightFileError(
                    source,
                    "member '\(member.name)' is stored but its two sizes differ; it is corrupt")
            }
            contents = Array(data)
        } else {
            do {
                contents = try Inflate.decompress(data, limit: member.uncompressedSize)
            } catch {
                throw WeightFileError(
                    source, "member '\(member.name)' cannot be decompressed: \(error.reason)")
            }
            guard contents.count == member.uncompressedSize else {
                throw WeightFileError(
                    source,
                    "member '\(member.name)' decompresses to \(contents.count) bytes, not the "
                        + "\(member.uncompressedSize) the archive declares; it is corrupt")
            }
        }
        let crc = CRC32.checksum(contents)
        guard crc == member.crc else {
            throw WeightFileError(
                source,
                "member '\(member.name)' fails its CRC-32 check (expected \(hex(member.crc)), "
                    + "got \(hex(crc))); the archive is corrupt")
        }
        return contents
    }

    private func hex(_ value: UInt32) -> String {
        let digits = String(value, radix: 16)
        return "0x" + String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// An archive holding `files` uncompressed, in the given order.
    ///
    /// Each file must be under 4 GiB and there must be fewer than 65535 of them:
    /// the writer does not produce zip64.
    static func encode(_ files: [(name: String, contents: [UInt8])]) -> [UInt8] {
        // 1980-01-01 00:00, the zip epoch: a fixed time keeps output reproducible.
        let dosTime: UInt16 = 0
        let dosDate: UInt16 = (1 << 5) | 1
        var bytes: [UInt8] = []
        var directory: [UInt8] = []
        for file in files {
            let name = Array(file.name.utf8)
            // Bit 11 says the name is UTF-8.
            let flags: UInt16 = name.allSatisfy { $0 < 0x80 } ? 0 : 1 << 11
            let crc = CRC32.checksum(file.contents)
            let size = UInt32(truncatingIfNeeded: file.contents.count)
            let localOffset = UInt32(truncatingIfNeeded: bytes.count)

            bytes.appendLittleEndian(localHeaderSignature)
            for field: UInt16 in [20, flags, stored, dosTime, dosDate] {
                bytes.appendLittleEndian(field)
            }
            for field: UInt32 in [crc, size, size] { bytes.appendLittleEndian(field) }
            bytes.appendLittleEndian(UInt16(truncatingIfNeeded: name.count))
            bytes.appendLittleEndian(UInt16(0))
            bytes += name
            bytes += file.contents

            directory.appendLittleEndian(centralHeaderSignature)
            for field: UInt16 in [20, 20, flags, stored, dosTime, dosDate] {
                directory.appendLittleEndian(field)
            }
            for field: UInt32 in [crc, size, size] { directory.appendLittleEndian(field) }
            // Name length, then no extra field, comment, disk number or attributes.
            for field: UInt16 in [UInt16(truncatingIfNeeded: name.count), 0, 0, 0, 0] {
                directory.appendLittleEndian(field)
            }
            directory.appendLittleEndian(UInt32(0))
            directory.appendLittleEndian(localOffset)
            directory += name
        }
        let directoryOffset = UInt32(truncatingIfNeeded: bytes.count)
        let count = UInt16(truncatingIfNeeded: files.count)
        bytes += directory
        bytes.appendLittleEndian(endSignature)
        for field: UInt16 in [0, 0, count, count] { bytes.appendLittleEndian(field) }
        bytes.appendLittleEndian(UInt32(truncatingIfNeeded: directory.count))
        bytes.appendLittleEndian(directoryOffset)
        bytes.appendLittleEndian(UInt16(0))
        return bytes
    }
}
