import Foundation
import KilnRuntime
import Testing

/// `OutputFile` writes through links and special files, keeps permissions,
/// and never overwrites a protected input.
@Suite struct OutputFileTests {
    let directory: URL

    init() throws {
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("kiln-output-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    }

    func path(_ name: String) -> URL { directory.appendingPathComponent(name) }

    func contents(_ name: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: path(name))) }

    func attributes(_ name: String) throws -> [FileAttributeKey: Any] {
        try FileManager.default.attributesOfItem(atPath: path(name).path)
    }

    @Test func newFileGetsTheUsualPermissions() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try OutputFile.write([1, 2, 3], to: path("new.bin"))
        #expect(try contents("new.bin") == [1, 2, 3])
        let mask = umask(0)
        umask(mask)
        #expect(try attributes("new.bin")[.posixPermissions] as? Int == Int(0o666 & ~mask))
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["new.bin"], "a temporary file was left")
    }

    @Test func replacedFileKeepsItsPermissions() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data([9]).write(to: path("private.bin"))
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: path("private.bin").path)
        try OutputFile.write([1, 2], to: path("private.bin"))
        #expect(try contents("private.bin") == [1, 2])
        #expect(try attributes("private.bin")[.posixPermissions] as? Int == 0o600)
    }

    @Test func symbolicLinkIsWrittenThroughAndKept() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data([9]).write(to: path("target.bin"))
        try FileManager.default.createSymbolicLink(atPath: path("link.bin").path, withDestinationPath: "target.bin")
        try OutputFile.write([4, 5], to: path("link.bin"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path("link.bin").path) == "target.bin")
        #expect(try contents("target.bin") == [4, 5])
    }

    @Test func danglingSymbolicLinkCreatesItsTarget() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try FileManager.default.createSymbolicLink(atPath: path("link.bin").path, withDestinationPath: "later.bin")
        try OutputFile.write([7], to: path("link.bin"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: path("link.bin").path) == "later.bin")
        #expect(try contents("later.bin") == [7])
    }

    @Test func hardLinkedFileIsWrittenInPlace() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data([9]).write(to: path("a.bin"))
        try FileManager.default.linkItem(at: path("a.bin"), to: path("b.bin"))
        try OutputFile.write([3, 3], to: path("a.bin"))
        #expect(try contents("b.bin") == [3, 3], "the other link lost the new contents")
    }

    @Test func fifoIsWrittenNotReplaced() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let fifo = path("pipe")
        #expect(mkfifo(fifo.path, 0o644) == 0)
        let done = DispatchSemaphore(value: 0)
        let received = LockedBytes()
        Thread {
            received.set([UInt8](FileHandle(forReadingAtPath: fifo.path)?.readDataToEndOfFile() ?? Data()))
            done.signal()
        }.start()
        try OutputFile.write([1, 2, 3], to: fifo)
        done.wait()
        #expect(received.get() == [1, 2, 3])
        var status = stat()
        #expect(lstat(fifo.path, &status) == 0 && status.st_mode & S_IFMT == S_IFIFO, "the FIFO was replaced")
    }

    @Test func deviceIsWrittenNotReplaced() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try OutputFile.write([1, 2, 3], to: URL(fileURLWithPath: "/dev/null"))
        let type = try FileManager.default.attributesOfItem(atPath: "/dev/null")[.type] as? FileAttributeType
        #expect(type == .typeCharacterSpecial)
    }

    @Test func fullDeviceFailsWithTheReason() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: RuntimeError.self) {
            try OutputFile.write([1], to: URL(fileURLWithPath: "/dev/full"))
        }
        #expect(error?.message == "/dev/full: cannot be written: No space left on device")
        let type = try FileManager.default.attributesOfItem(atPath: "/dev/full")[.type] as? FileAttributeType
        #expect(type == .typeCharacterSpecial)
    }

    @Test func protectedFileIsNeverOverwritten() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        try Data([9]).write(to: path("input.npy"))
        try FileManager.default.createSymbolicLink(atPath: path("alias.npy").path, withDestinationPath: "input.npy")
        for name in ["input.npy", "alias.npy"] {
            let error = #expect(throws: RuntimeError.self) {
                try OutputFile.write([1], to: path(name), protecting: [path("input.npy")])
            }
            #expect(error?.message.contains("refusing to overwrite") == true)
        }
        #expect(try contents("input.npy") == [9])
    }

    @Test func directoryIsRefused() throws {
        defer { try? FileManager.default.removeItem(at: directory) }
        let error = #expect(throws: RuntimeError.self) { try OutputFile.write([1], to: directory) }
        #expect(error?.message.hasSuffix(": is a directory; give a file name") == true)
    }
}

/// Bytes handed from a reader thread to the test.
private final class LockedBytes: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes: [UInt8] = []

    func set(_ value: [UInt8]) {
        lock.lock()
        bytes = value
        lock.unlock()
    }

    func get() -> [UInt8] {
        lock.lock()
        defer { lock.unlock() }
        return bytes
    }
}
