import Foundation
import Kiln
import KilnCodegen
import KilnIR
import KilnRuntime

extension Compiler {
    /// What a static compile produced: an object file (or assembly) and its C header.
    public struct StaticResult: Sendable {
        /// `NAME.o` (or `NAME.S`): the model's code, weights and metadata accessor; it calls nothing outside itself.
        public var object: URL
        /// `NAME.h`: the entry point, the metadata symbol and the buffer sizes.
        public var header: URL
        /// The model's metadata, also exported by the object as `kiln_NAME_metadata`.
        public var metadata: ArtifactMetadata
    }

    /// The C identifier part Kiln uses for a model's symbols, e.g. `kiln_<name>_run`.
    public static func symbolName(for modelName: String) -> String {
        let cleaned = String(modelName.map { $0.isLetter || $0.isNumber || $0 == "_" ? $0 : "_" })
        return cleaned.first?.isNumber == true ? "_" + cleaned : cleaned
    }

    /// Compiles `graph` to an object file and C header for static linking (firmware, other build systems).
    ///
    /// The object exports `void kiln_NAME_run(void *arena, const void *const *inputs, void *const *outputs)`
    /// and `const char *kiln_NAME_metadata(void)` (JSON), where NAME is ``symbolName(for:)`` of the graph's name.
    /// With `assembly`, it is written as `NAME.S` assembly instead (what SwiftPM C targets compile), and the
    /// header goes to `headerDirectory` when given.
    public func compileStatic(
        _ graph: Graph, options: CompileOptions, outputDirectory: URL, assembly: Bool = false, headerDirectory: URL? = nil
    ) throws -> StaticResult {
        try compileStatic(
            [(graph, options)], outputDirectory: outputDirectory, assembly: assembly, headerDirectory: headerDirectory)[0]
    }

    /// Compiles several graphs as ``compileStatic(_:options:outputDirectory:assembly:headerDirectory:)`` does,
    /// writing files only when every graph compiled: all of them or none.
    public func compileStatic(
        _ graphs: [(Graph, CompileOptions)], outputDirectory: URL, assembly: Bool = false, headerDirectory: URL? = nil
    ) throws -> [StaticResult] {
        let headers = headerDirectory ?? outputDirectory
        let built = try graphs.map { graph, options in
            try buildStatic(graph, options: options, assembly: assembly, outputDirectory: outputDirectory, headers: headers)
        }
        try Self.createOutputDirectory(outputDirectory)
        try Self.createOutputDirectory(headers)
        for (result, object, header) in built {
            try OutputFile.write(object, to: result.object)
            try OutputFile.write(header, to: result.header)
        }
        return built.map(\.result)
    }

    /// The object (or assembly) and header bytes of one graph, and where they go.
    private func buildStatic(
        _ graph: Graph, options: CompileOptions, assembly: Bool, outputDirectory: URL, headers: URL
    ) throws -> (result: StaticResult, object: [UInt8], header: [UInt8]) {
        let optimized = try optimize(graph, options: options)
        let target = try Self.targetMachine(options.target)
        let name = Self.symbolName(for: graph.name)
        var metadata = Self.metadata(for: optimized, target: target)
        metadata.entryPoint = "kiln_\(name)_run"
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let json = String(decoding: try encoder.encode(metadata), as: UTF8.self)
        let codegen = ModelCodegen(target: target, entryPoint: metadata.entryPoint)
        let exported = ("kiln_\(name)_metadata", json)
        let object = assembly
            ? Array(Self.preprocessorSafe(try codegen.emitAssembly(for: optimized, exportedMetadata: exported)).utf8)
            : try codegen.emitObject(for: optimized, exportedMetadata: exported)
        let result = StaticResult(
            object: outputDirectory.appendingPathComponent("\(graph.name).\(assembly ? "S" : "o")"),
            header: headers.appendingPathComponent("\(graph.name).h"), metadata: metadata)
        return (result, object, Array(Self.header(for: metadata, symbol: name).utf8))
    }

    /// Assembly without the comment lines LLVM writes (`# %bb.0:`): `.S` files
    /// go through the C preprocessor, which would read them as directives.
    static func preprocessorSafe(_ assembly: String) -> String {
        assembly.split(separator: "\n", omittingEmptySubsequences: false)
            .filter { !$0.drop(while: { $0 == " " || $0 == "\t" }).hasPrefix("#") }
            .joined(separator: "\n")
    }

    /// The C header declaring a statically compiled model.
    static func header(for metadata: ArtifactMetadata, symbol name: String) -> String {
        let guardName = "KILN_\(name.uppercased())_H"
        let prefix = "KILN_\(name.uppercased())"
        func offset(_ zeroPoint: Int32) -> String { zeroPoint < 0 ? "+ \(-Int(zeroPoint))" : "- \(zeroPoint)" }
        func describe(_ tensors: [TensorSignature], _ role: String) -> [String] {
            tensors.enumerated().flatMap { index, tensor in
                [
                    "/* \(role) \(index) '\(tensor.name)': \(tensor.elementType.rawValue) \(tensor.shape)"
                        + (tensor.scale.map { ", real = \($0) * (q \(offset(tensor.zeroPoint ?? 0)))" } ?? "") + " */",
                    "#define \(prefix)_\(role.uppercased())\(index)_BYTES \(tensor.byteCount)",
                ]
            }
        }
        return (
            [
                "/* Generated by kiln from model '\(metadata.modelName)' (Kiln \(metadata.kilnVersion)). Do not edit. */",
                "#ifndef \(guardName)",
                "#define \(guardName)",
                "",
                "#ifdef __cplusplus",
                "extern \"C\" {",
                "#endif",
                "",
                "/* Scratch memory kiln_\(name)_run needs, 64-byte aligned, reused across calls. */",
                "#define \(prefix)_ARENA_BYTES \(max(metadata.arenaByteCount, 1))",
                "/* CPU features the code was compiled for: \(metadata.targetTriple) \(metadata.targetCPU) \(metadata.requiredCPUFeatures.joined(separator: " ")) */",
            ] + describe(metadata.inputs, "input") + describe(metadata.outputs, "output") + [
                "",
                "/* Runs one inference: inputs[i] and outputs[i] point to the tensors above; nothing is allocated. */",
                "void kiln_\(name)_run(void *arena, const void *const *inputs, void *const *outputs);",
                "",
                "/* The model's metadata as JSON (names, shapes, types, quantization, CPU features). */",
                "const char *kiln_\(name)_metadata(void);",
                "",
                "#ifdef __cplusplus",
                "}",
                "#endif",
                "#endif",
                "",
            ]
        ).joined(separator: "\n")
    }
}
