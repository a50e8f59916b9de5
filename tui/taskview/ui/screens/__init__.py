"""The screens: the inspector (live and replay on a shared base) and the modal dialogs."""
