"""cxm: customer and seller experience analytics for direct-selling companies."""

__version__ = "0.1.0"
