import CKernels
import COpenBLAS
import Foundation

#if canImport(Glibc)
import Glibc
#endif

extension BLAS {
    /// OpenBLAS picks its kernels for the CPU once, when the library loads. A build older than the
    /// CPU does not know the model and falls back to generic SSE3 code ("Prescott": on this machine a
    /// quarter of the speed and a busy-waiting thread pool, measured LESS at the LESS paper's size: 33 s
    /// against 16 s). `OPENBLAS_CORETYPE` overrides the choice, but is read only at load time, so a
    /// program that finds the generic kernels on a CPU with AVX-512 or AVX2 sets it and executes
    /// itself again (once: the variable is then set). Call first thing in `main`.
    ///
    /// The override names the newest family every AVX-512 (SkylakeX) or AVX2 (Haswell) CPU supports.
    public static func useOptimizedKernels() {
        guard ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] == nil else { return }
        let name = openblas_get_corename().map { String(cString: $0) }?.lowercased() ?? ""
        let generic = ["prescott", "core2", "katmai", "coppermine", "northwood", "banias", "penryn", "dunnington", "nehalem", "unknown", ""]
        guard generic.contains(name) else { return }
        let family: String
        if qc_cpu_has_avx512() != 0 {
            family = "SkylakeX"
        } else if qc_simd_level() > 0 {
            family = "Haswell"
        } else {
            return
        }
        setenv("OPENBLAS_CORETYPE", family, 1)
        var arguments = CommandLine.arguments.map { strdup($0) }
        arguments.append(nil)
        execv("/proc/self/exe", &arguments)
        // execv returns only on failure: carry on with the generic kernels.
        for pointer in arguments { free(pointer) }
    }
}
