{
  "targets": [
    {
      "target_name": "worker_ddp_mpi",
      "sources": ["mpi.c"],
      "cflags": ["<!@(mpicc --showme:compile)"],
      "libraries": ["<!@(mpicc --showme:link)"]
    }
  ]
}
