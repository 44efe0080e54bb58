//! The NIC: QEMU's virtio-net (MMIO) through virtio-drivers'
//! `VirtIONetRaw`, as a smoltcp `Device`. No heap: the virtqueues come
//! from a static DMA pool, received frames land in static buffers.

use core::cell::UnsafeCell;
use core::ptr::NonNull;
use core::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;
use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr, PAGE_SIZE};

/// Virtqueue size.
const QUEUE: usize = 16;
/// Receive buffers kept posted to the device.
const RX_BUFS: usize = 8;
/// One receive buffer: virtio-net header + an Ethernet frame.
const RX_BUF: usize = 2048;
/// Largest Ethernet frame (no FCS).
const MTU: usize = 1514;
/// Static DMA memory for the virtqueues.
const DMA_PAGES: usize = 16;

/// The virtio-mmio slots of QEMU virt.
const MMIO_BASE: usize = 0x1000_1000;
const MMIO_SIZE: usize = 0x1000;
const MMIO_SLOTS: usize = 8;

#[repr(C, align(4096))]
struct DmaPool(UnsafeCell<[u8; DMA_PAGES * PAGE_SIZE]>);

// SAFETY: the pool is only reached through `HalImpl::dma_alloc`, which
// hands out disjoint page ranges (an atomic bump index), each once.
unsafe impl Sync for DmaPool {}

static DMA: DmaPool = DmaPool(UnsafeCell::new([0; DMA_PAGES * PAGE_SIZE]));
static DMA_NEXT: AtomicUsize = AtomicUsize::new(0);

struct RxPool(UnsafeCell<[[u8; RX_BUF]; RX_BUFS]>);

// SAFETY: `take_rx_bufs` hands out the only reference, once (guarded by
// `RX_TAKEN`).
unsafe impl Sync for RxPool {}

static RX: RxPool = RxPool(UnsafeCell::new([[0; RX_BUF]; RX_BUFS]));
static RX_TAKEN: AtomicBool = AtomicBool::new(false);

/// The receive buffers, once.
fn take_rx_bufs() -> Option<&'static mut [[u8; RX_BUF]; RX_BUFS]> {
    if RX_TAKEN.swap(true, Ordering::AcqRel) {
        return None;
    }
    // SAFETY: the swap above lets this run once, so this is the only
    // reference to the buffers for the rest of the program.
    Some(unsafe { &mut *RX.0.get() })
}

/// Identity-mapped DMA for a machine without an MMU in use (M-mode).
pub struct HalImpl;

// SAFETY: `dma_alloc` returns zeroed, page-aligned, never reused memory
// from a static pool (physical = virtual address in M-mode with no
// paging); `share` returns the buffer's own address, which the device can
// reach directly (no IOMMU, no bounce buffers needed).
unsafe impl Hal for HalImpl {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let first = DMA_NEXT.fetch_add(pages, Ordering::AcqRel);
        if first + pages > DMA_PAGES {
            crate::println!("sensor-node: DMA pool exhausted");
            crate::board::exit(5);
        }
        // SAFETY: `first * PAGE_SIZE` is within the pool (checked above).
        let ptr = unsafe { DMA.0.get().cast::<u8>().add(first * PAGE_SIZE) };
        let ptr = NonNull::new(ptr).unwrap_or(NonNull::dangling());
        (ptr.as_ptr() as usize as PhysAddr, ptr)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, _vaddr: NonNull<u8>, _pages: usize) -> i32 {
        // The queues live as long as the firmware.
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as usize as *mut u8).unwrap_or(NonNull::dangling())
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr().cast::<u8>() as usize as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

type Raw = VirtIONetRaw<HalImpl, MmioTransport<'static>, QUEUE>;

/// The virtio-net NIC as a smoltcp device.
pub struct NetDevice {
    raw: Raw,
    bufs: &'static mut [[u8; RX_BUF]; RX_BUFS],
    /// The device's token for each posted buffer.
    tokens: [Option<u16>; RX_BUFS],
}

impl NetDevice {
    /// Finds the virtio-net device and posts every receive buffer.
    pub fn find() -> Option<Self> {
        let mut transport = None;
        for slot in 0..MMIO_SLOTS {
            let addr = MMIO_BASE + slot * MMIO_SIZE;
            let header = NonNull::new(addr as *mut VirtIOHeader)?;
            // SAFETY: QEMU virt maps a virtio-mmio region of MMIO_SIZE bytes
            // at each of these addresses for the whole run; nothing else
            // touches it.
            let Ok(t) = (unsafe { MmioTransport::new(header, MMIO_SIZE) }) else {
                continue;
            };
            if t.device_type() == DeviceType::Network {
                transport = Some(t);
                break;
            }
        }
        let raw = Raw::new(transport?).ok()?;
        let bufs = take_rx_bufs()?;
        let mut dev = Self {
            raw,
            bufs,
            tokens: [None; RX_BUFS],
        };
        for i in 0..RX_BUFS {
            dev.post(i);
        }
        Some(dev)
    }

    /// The MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    /// Gives buffer `i` to the device for receiving.
    fn post(&mut self, i: usize) {
        // SAFETY: buffer `i` is not touched again until the device returns
        // its token from `poll_receive` and `receive_complete` is called
        // with the same buffer.
        self.tokens[i] = unsafe { self.raw.receive_begin(&mut self.bufs[i]) }.ok();
    }
}

/// A received frame, copied out of the DMA buffer (which is re-posted at
/// once).
pub struct RxTok {
    frame: [u8; MTU],
    len: usize,
}

/// Sends one frame (virtio-drivers waits for the device to take it).
pub struct TxTok<'a>(&'a mut Raw);

impl phy::RxToken for RxTok {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.frame[..self.len])
    }
}

impl phy::TxToken for TxTok<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = [0u8; MTU];
        let len = len.min(MTU);
        let r = f(&mut frame[..len]);
        if self.0.send(&frame[..len]).is_err() {
            crate::println!("sensor-node: virtio-net send failed");
        }
        r
    }
}

impl phy::Device for NetDevice {
    type RxToken<'a> = RxTok;
    type TxToken<'a> = TxTok<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxTok, TxTok<'_>)> {
        let token = self.raw.poll_receive()?;
        let i = self.tokens.iter().position(|t| *t == Some(token))?;
        // SAFETY: buffer `i` is the one posted with `token`.
        let done = unsafe { self.raw.receive_complete(token, &mut self.bufs[i]) };
        let mut rx = RxTok {
            frame: [0; MTU],
            len: 0,
        };
        if let Ok((hdr, len)) = done {
            let len = len.min(MTU);
            rx.frame[..len].copy_from_slice(&self.bufs[i][hdr..hdr + len]);
            rx.len = len;
        }
        // Re-post before anything else can return early, or the buffer is
        // lost to the device.
        self.post(i);
        Some((rx, TxTok(&mut self.raw)))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxTok<'_>> {
        Some(TxTok(&mut self.raw))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MTU;
        caps.max_burst_size = Some(1);
        caps
    }
}
