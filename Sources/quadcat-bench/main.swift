import Foundation

// A quick probe while the full benchmark is written.
print(String(format: "memory read: %.1f GB/s (1 thread), %.1f GB/s (2 threads)", Measure.memoryReadBandwidth(threads: 1), Measure.memoryReadBandwidth(threads: 2)))
