"""Pure rules of SP4N Engine shared by workflows, activities and the API. No I/O here."""
