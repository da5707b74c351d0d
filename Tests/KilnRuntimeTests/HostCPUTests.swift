import Testing

@testable import KilnRuntime

@Suite("Host CPU features")
struct HostCPUTests {
    let cpuinfo = """
        processor\t: 0
        vendor_id\t: GenuineIntel
        flags\t\t: fpu sse sse2 pni ssse3 fma sse4_1 sse4_2 popcnt avx avx2 bmi1 bmi2 abm \
        lahf_lm pclmulqdq rdrand sha_ni f16c avx512f avx512bw avx512_vnni avx512_bf16 \
        avx512_vbmi2 avx512_bitalg avx512_vpopcntdq avx512_fp16 avx_vnni amx_tile
        bugs\t\t: spectre_v1

        processor\t: 1
        flags\t\t: fpu
        """

    @Test func cpuinfoFlagsBecomeLLVMNames() throws {
        let features = try #require(HostCPU.features(fromCPUInfo: cpuinfo))
        let expected: Set<String> = [
            "sse", "sse2", "sse3", "ssse3", "fma", "sse4.1", "sse4.2", "popcnt", "avx", "avx2",
            "bmi", "bmi2", "lzcnt", "sahf", "pclmul", "rdrnd", "sha", "f16c", "avx512f",
            "avx512bw", "avx512vnni", "avx512bf16", "avx512vbmi2", "avx512bitalg",
            "avx512vpopcntdq", "avx512fp16", "avxvnni", "amx-tile", "crc32", "evex512", "x87",
        ]
        #expect(features == expected)
    }

    @Test func textWithoutFlagsIsUnknown() {
        #expect(HostCPU.features(fromCPUInfo: "processor : 0\nFeatures : fp asimd\n") == nil)
    }

    @Test func missingFeaturesKeepsOrderAndIgnoresMarkers() {
        let available: Set<String> = ["avx2", "fma", "sse4.1"]
        let missing = HostCPU.missingFeatures(
            [
                "+avx2", "avx512f", "-avx512bw", "fma", "avx512f", "kiln-imaginary-feature",
                "sse4.1",
            ],
            available: available)
        #expect(missing == ["avx512f", "kiln-imaginary-feature"])
    }

    @Test(.enabled(if: HostCPU.features != nil))
    func thisMachineIsDescribed() throws {
        let features = try #require(HostCPU.features)
        #if arch(x86_64)
            #expect(features.contains("sse2"))
        #endif
        #expect(HostCPU.missingFeatures(["kiln-imaginary-feature"]) == ["kiln-imaginary-feature"])
        #expect(HostCPU.missingFeatures(Array(features)) == [])
    }
}

@Suite("Kiln version compatibility")
struct KilnVersionTests {
    @Test func majorAndMinorMustMatch() {
        #expect(KilnVersion.isCompatible(KilnVersion.current))
        #expect(KilnVersion.isCompatible("0.1.42"))
        #expect(!KilnVersion.isCompatible("0.2.0"))
        #expect(!KilnVersion.isCompatible("1.1.0"))
        #expect(!KilnVersion.isCompatible("0"))
        #expect(!KilnVersion.isCompatible(""))
    }
}
