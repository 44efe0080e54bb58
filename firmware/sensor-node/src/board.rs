//! QEMU `virt` board pieces: the 16550 UART (console), the CLINT timer
//! (clock) and the `sifive_test` device (power off with an exit code).

use core::fmt;

const UART: *mut u8 = 0x1000_0000 as *mut u8;
const MTIME: *const u32 = 0x0200_bff8 as *const u32;
const SIFIVE_TEST: *mut u32 = 0x0010_0000 as *mut u32;
/// CLINT `mtime` ticks per microsecond (10 MHz on `virt`).
const TICKS_PER_US: u64 = 10;

/// The console.
pub struct Uart;

impl fmt::Write for Uart {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for b in s.bytes() {
            // SAFETY: 0x1000_0000 is the transmit register of QEMU virt's
            // 16550 UART; QEMU accepts a byte at any time (no FIFO wait).
            unsafe { UART.write_volatile(b) };
        }
        Ok(())
    }
}

/// Prints a line on the console.
#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        use core::fmt::Write as _;
        let _ = writeln!($crate::board::Uart, $($arg)*);
    }};
}

/// Microseconds since reset.
pub fn now_us() -> u64 {
    loop {
        // SAFETY: CLINT `mtime` is a 64-bit read-only counter at
        // 0x0200_bff8 on QEMU virt; reading it has no side effect. It is
        // read as two halves (hi, lo, hi again) because riscv32 has no
        // 64-bit load.
        let (hi, lo, hi2) = unsafe {
            (
                MTIME.add(1).read_volatile(),
                MTIME.read_volatile(),
                MTIME.add(1).read_volatile(),
            )
        };
        if hi == hi2 {
            return ((u64::from(hi) << 32) | u64::from(lo)) / TICKS_PER_US;
        }
    }
}

/// Ends the simulation: QEMU exits with `code`.
pub fn exit(code: u32) -> ! {
    let value = if code == 0 {
        0x5555
    } else {
        (code << 16) | 0x3333
    };
    // SAFETY: 0x0010_0000 is QEMU virt's `sifive_test` device; writing
    // 0x5555 (pass) or `code << 16 | 0x3333` (fail) stops the machine.
    unsafe { SIFIVE_TEST.write_volatile(value) };
    loop {
        core::hint::spin_loop();
    }
}
