"""The version of bayesmix, in a module of its own so that modules inside the
package (io writes it into saved files) need not import the package."""

__version__ = "0.1.0"
