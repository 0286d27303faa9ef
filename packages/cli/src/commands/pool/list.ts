import type { PoolView } from '@trainyard/shared';
import { YardCommand } from '../../base-command.js';
import { poolProblems, poolsTable } from '../../lib/pool-format.js';

export default class PoolList extends YardCommand<typeof PoolList> {
  static override summary = 'List resource pools: manager, capacity, what runs, and the queue.';
  static override description =
    'Each pool (master.yaml pools) runs its tasks on one resource manager: Trainyard agents started with --pool NAME, ' +
    'or a Slurm partition. CPU, MEMORY and GPUS are what the pool\'s tasks hold now against what its alive, enabled ' +
    'machines have (a task that asks no cpu counts one); TASKS are its assigned and running tasks, QUEUED those ' +
    'waiting for it, OLDEST WAIT how long the oldest has waited. DEFAULT marks where tasks go that name no pool ' +
    '(and whose group names none). For a Slurm pool, NODES and the capacities are its partition\'s usable nodes, ' +
    'SLURM ALLOCATED what Slurm has allocated there to anyone\'s jobs, and IN SLURM QUEUE how many of the pool\'s ' +
    'tasks have a job waiting in Slurm\'s own queue (yard task describe says why: SLURM:Resources...). --json adds, ' +
    'for holders of see_status, the agents of each pool (a Slurm pool: its partition, account and settings).';
  static override examples = ['<%= config.bin %> pool list', '<%= config.bin %> pool list --json', '<%= config.bin %> command run --pool gpu -- nvidia-smi'];

  async run(): Promise<{ items: PoolView[] }> {
    const list = await (await this.session()).call('pools.list');
    this.log(poolsTable(list.items));
    for (const problem of poolProblems(list.items)) process.stderr.write(`${problem}\n`);
    return list;
  }
}
