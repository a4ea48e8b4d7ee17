"""The web console for coordinators and liaisons (SPEC section 8)."""
