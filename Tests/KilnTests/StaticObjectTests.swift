import Foundation
import KilnCodegen
import KilnCompiler
import KilnIR
import KilnReference
import KilnRuntime
import Testing

/// `kiln compile --static`: an object file and C header that a C program (or
/// firmware build) links directly, with no loader and no Kiln runtime.
@Suite struct StaticObjectTests {
    static var clang: URL? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        let candidates = path.split(separator: ":").map { "\($0)/clang" } + ["/opt/swift/usr/bin/clang", "/usr/bin/clang"]
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }.map(URL.init(fileURLWithPath:))
    }

    func compiled() throws -> (directory: URL, result: Compiler.Result, graph: Graph) {
        let directory = try temporaryDirectory()
        let graph = try TinyCNN.graph()
        let result = try Compiler().compile(graph, options: .init(), as: .staticObject, outputDirectory: directory)
        return (directory, result, try Compiler().optimize(graph, options: .init()))
    }

    @Test func cProgramLinksTheObjectAndMatchesTheReference() throws {
        let (directory, result, graph) = try compiled()
        defer { try? FileManager.default.removeItem(at: directory) }
        let header = try String(contentsOf: try #require(result.header), encoding: .utf8)
        #expect(header.contains("void kiln_TinyCNN_run(void *arena, const void *const *inputs, void *const *outputs);"))
        #expect(header.contains("#define KILN_TINYCNN_INPUT0_BYTES 256"))
        let program = """
            #include <stdio.h>
            #include "TinyCNN.h"

            static unsigned char arena[KILN_TINYCNN_ARENA_BYTES] __attribute__((aligned(64)));

            int main(int argc, char **argv) {
                float input[KILN_TINYCNN_INPUT0_BYTES / 4], output[KILN_TINYCNN_OUTPUT0_BYTES / 4];
                FILE *file = fopen(argv[1], "rb");
                if (!file || fread(input, 1, sizeof input, file) != sizeof input) return 2;
                fclose(file);
                const void *inputs[] = {input};
                void *outputs[] = {output};
                kiln_TinyCNN_run(arena, inputs, outputs);
                fwrite(output, 1, sizeof output, stdout);
                return kiln_TinyCNN_metadata()[0] == '{' ? 0 : 3;
            }

            """
        try program.write(to: directory.appendingPathComponent("main.c"), atomically: true, encoding: .utf8)
        let clang = try #require(Self.clang, "clang is needed to link the C program")
        let build = try CommandLineTool.run(
            clang,
            [directory.appendingPathComponent("main.c").path, result.artifact.path, "-I", directory.path, "-o",
                directory.appendingPathComponent("main").path])
        try #require(build.status == 0, "\(build.output)")

        let input = uniformValues(64, in: -1...1, seed: 5)
        let inputFile = directory.appendingPathComponent("input.bin")
        try Data(TensorData(input, shape: [1, 8, 8, 1]).bytes).write(to: inputFile)
        let process = Process()
        process.executableURL = directory.appendingPathComponent("main")
        process.arguments = [inputFile.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let bytes = [UInt8](pipe.fileHandleForReading.readDataToEndOfFile())
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        let actual = TensorData(dtype: .float32, shape: [1, 10], bytes: bytes).floats()
        let expected = try ReferenceInterpreter(graph).run([TensorData(input, shape: [1, 8, 8, 1])])[0].floats()
        expectClose(actual, expected, tolerance: 1e-5, "static TinyCNN")
    }

    @Test func linkedEntryPointRunsThroughTheRuntime() throws {
        let (directory, result, graph) = try compiled()
        defer { try? FileManager.default.removeItem(at: directory) }
        // Link the object into a library only to reach its symbols from this test process;
        // `-z defs` also proves the object needs nothing outside itself.
        let library = directory.appendingPathComponent("libTinyCNN.so")
        try SharedLibraryLinker.find().link(objectFile: result.artifact, output: library)
        let handle = try #require(dlopen(library.path, RTLD_NOW | RTLD_LOCAL))
        defer { dlclose(handle) }
        let entry = try #require(dlsym(handle, "kiln_TinyCNN_run"))
        typealias MetadataAccessor = @convention(c) () -> UnsafePointer<CChar>
        let metadata = unsafeBitCast(try #require(dlsym(handle, "kiln_TinyCNN_metadata")), to: MetadataAccessor.self)
        let model = try CompiledModel(
            linkedEntryPoint: unsafeBitCast(entry, to: CompiledModel.EntryPoint.self), metadataJSON: String(cString: metadata()))
        #expect(model.url == nil)
        #expect(model.metadata.entryPoint == "kiln_TinyCNN_run")
        let input = uniformValues(64, in: -1...1, seed: 9)
        let expected = try ReferenceInterpreter(graph).run([TensorData(input, shape: [1, 8, 8, 1])])[0].floats()
        expectClose(try model.predict(input), expected, tolerance: 1e-5, "linked TinyCNN")
        #expect(throws: RuntimeError.self) { try CompiledModel(linkedEntryPoint: unsafeBitCast(entry, to: CompiledModel.EntryPoint.self), metadataJSON: "{}") }
    }
}
